import type { Context } from 'hono'

interface MatchedRoute {
  readonly method: string
  readonly path: string
  readonly handler: unknown
}

/**
 * `METHOD route-pattern` of the route that answers, or `METHOD path` when only middleware matched.
 *
 * Hono sets `c.req.routeIndex` as it calls each matched handler, so the route running now (or, once the
 * response is out, the one that answered) is known. Read from a middleware before any route ran, the route
 * that will answer is the first one after it registered for a method (`app.get`, ...), else another route that
 * is not catch-all middleware. A route matched after the one that answered (a fallback such as
 * `app.all('/api/*', notFound)`) never names it.
 *
 * The routes come from `c.req.matchedRoutes`, which Hono marks deprecated in favour of the `hono/route`
 * helper. The helper reads a symbol private to the build it comes from, so an ESM helper fails on a context
 * made by Hono's CommonJS build (and the reverse); the getter belongs to the request itself and works with
 * either build.
 */
export function defaultOperation(c: Context, self: unknown): string {
  const routes = (c.req as unknown as { matchedRoutes: readonly MatchedRoute[] }).matchedRoutes
  const running = (c.req as unknown as { routeIndex?: number }).routeIndex ?? 0
  const current = routes[running]
  const names = (route: MatchedRoute | undefined): route is MatchedRoute => route !== undefined && route.handler !== self && !isCatchAll(route)
  if (names(current) && current.method !== 'ALL') return `${c.req.method} ${current.path}`
  for (let i = running + 1; i < routes.length; i++) if (routes[i]!.method !== 'ALL' && names(routes[i])) return `${c.req.method} ${routes[i]!.path}`
  for (let i = routes.length - 1; i > running; i--) if (names(routes[i])) return `${c.req.method} ${routes[i]!.path}`
  if (names(current)) return `${c.req.method} ${current.path}`
  return `${c.req.method} ${c.req.path}`
}

// Catch-all middleware (`app.use(fn)`, `app.use('*', fn)`) says nothing about the operation.
function isCatchAll(route: MatchedRoute): boolean {
  return route.method === 'ALL' && (route.path === '*' || route.path === '/*')
}
