import type { ParameterizedContext } from 'koa'

/** What the name needs of a `@koa/router` layer. */
interface LayerLike {
  path?: unknown
  methods?: readonly string[]
}

/** What `@koa/router` leaves on the context. */
interface RoutedContext {
  _matchedRoute?: unknown
  matched?: readonly LayerLike[]
}

/** The path of the layer `@koa/router` runs now (`ctx._matchedRoute`), or `undefined` before it matched. */
export function matchedLayerPath(ctx: ParameterizedContext): unknown {
  return (ctx as RoutedContext)._matchedRoute
}

/**
 * The pattern of the route that handles the request, given the path of the layer `@koa/router` runs now.
 * The router sets `ctx._matchedRoute` to the path of every layer it runs, a `router.use()` middleware's
 * included (`(?:\/|$)` for one without a path, `/items` for `router.use('/items', ...)`), and runs the layers
 * matched (`ctx.matched`) in order, the routes for other methods left out. While such a middleware runs, the
 * route is the next one it passes the request on to, or, with none after it, the last one that ran before it.
 * (A middleware is found by its path: of two with the same path, the first.) Reads the layers matched: call it
 * when the layer has changed, not on every read.
 */
export function routePattern(ctx: ParameterizedContext, layerPath: unknown): unknown {
  const layers = (ctx as RoutedContext).matched
  if (layers === undefined) return layerPath
  const method = ctx.method
  let before: unknown
  let running = false
  for (const layer of layers) {
    const methods = layer.methods
    const isRoute = methods !== undefined && methods.length > 0
    // Not run for this request.
    if (isRoute && !methods.includes(method)) continue
    if (running) {
      if (isRoute) return layer.path
    } else if (layer.path === layerPath) {
      if (isRoute) return layerPath
      running = true
    } else if (isRoute) {
      before = layer.path
    }
  }
  return before ?? layerPath
}
