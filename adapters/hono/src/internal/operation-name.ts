import type { Context } from 'hono'
import { matchedRoutes } from 'hono/route'

/**
 * `METHOD route-pattern` of the route that will answer, or `METHOD path` when only middleware matched.
 * Hono matches every route before the first middleware runs, so the name is known from the start.
 */
export function defaultOperation(c: Context, self: unknown): string {
  const routes = matchedRoutes(c)
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i]!
    if (route.handler === self) break
    // Catch-all middleware (`app.use(fn)`, `app.use('*', fn)`) says nothing about the operation.
    if (route.method === 'ALL' && (route.path === '*' || route.path === '/*')) continue
    return `${c.req.method} ${route.path}`
  }
  return `${c.req.method} ${c.req.path}`
}
