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
 * included (`(?:\/|$)` for one without a path, `/items` for `router.use('/items', ...)`): while such a
 * middleware runs, the route is the last one matched for the request's method. Reads the layers matched
 * (`ctx.matched`): call it when the layer has changed, not on every read.
 */
export function routePattern(ctx: ParameterizedContext, layerPath: unknown): unknown {
  const layers = (ctx as RoutedContext).matched
  if (layers === undefined) return layerPath
  let route: unknown
  for (const layer of layers) {
    const methods = layer.methods
    if (methods === undefined || methods.length === 0) continue
    if (layer.path === layerPath) return layerPath
    if (methods.includes(ctx.method)) route = layer.path
  }
  return route ?? layerPath
}
