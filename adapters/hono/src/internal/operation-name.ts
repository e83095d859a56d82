import type { Context } from 'hono'

interface MatchedRoute {
  readonly method: string
  readonly path: string
  readonly handler: unknown
}

/**
 * `METHOD route-pattern` of the route that will answer, or `METHOD path` when only middleware matched.
 * Hono matches every route before the first middleware runs, so the name is known from the start.
 *
 * The routes come from `c.req.matchedRoutes`, which Hono marks deprecated in favour of the `hono/route`
 * helper. The helper reads a symbol private to the build it comes from, so an ESM helper fails on a context
 * made by Hono's CommonJS build (and the reverse); the getter belongs to the request itself and works with
 * either build.
 */
export function defaultOperation(c: Context, self: unknown): string {
  const routes = (c.req as unknown as { matchedRoutes: readonly MatchedRoute[] }).matchedRoutes
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!
    if (route.handler === self) break
    // Catch-all middleware (`app.use(fn)`, `app.use('*', fn)`) says nothing about the operation.
    if (route.method === 'ALL' && (route.path === '*' || route.path === '/*')) continue
    return `${c.req.method} ${route.path}`
  }
  return `${c.req.method} ${c.req.path}`
}
