import { pathOf } from '@lifeguard/core/http'
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
 * response is out, the one that answered) is known. Hono records middleware (`app.use`) and routes for every
 * method (`app.all`) alike, as method `ALL`, and middleware for one method as a route of it: a handler is told
 * from a middleware by what it takes, a middleware being called with `next`. Read from a middleware before any route ran, the route that will answer is the first
 * handler after it (`app.get`, ..., or an `app.all` handler), else another route that is not catch-all
 * middleware. A route matched after the one that answered (a fallback such as `app.all('/api/*', notFound)`)
 * never names it.
 *
 * The routes come from `c.req.matchedRoutes`, which Hono marks deprecated in favour of the `hono/route`
 * helper. The helper reads a symbol private to the build it comes from, so an ESM helper fails on a context
 * made by Hono's CommonJS build (and the reverse); the getter belongs to the request itself and works with
 * either build.
 */
export function defaultOperation(c: Context, self: unknown): string {
  const routes = matchedRoutesOf(c)
  const running = routeIndexOf(c)
  const current = routes[running]
  // Once the response is out, the chain stopped at the route that answered, whatever it declares.
  if (c.finalized && names(current, self)) return `${c.req.method} ${current.path}`
  if (answers(current, self)) return `${c.req.method} ${current!.path}`
  for (let i = running + 1; i < routes.length; i++) if (answers(routes[i], self)) return `${c.req.method} ${routes[i]!.path}`
  for (let i = routes.length - 1; i > running; i--) if (names(routes[i], self)) return `${c.req.method} ${routes[i]!.path}`
  if (names(current, self)) return `${c.req.method} ${current.path}`
  // The path as sent, not `c.req.path`: Hono decodes that, and `%0d%0a` would put a line break in the name.
  return `${c.req.method} ${pathOf(c.req.url)}`
}

/**
 * True once the route that answers is running (or has run): what `c.req.routePath` and `c.req.param()` say now
 * is that route's. Before, from a middleware, they are the middleware's.
 */
export function answeringRouteRuns(c: Context, self: unknown): boolean {
  return c.finalized || answers(matchedRoutesOf(c)[routeIndexOf(c)], self)
}

const matchedRoutesOf = (c: Context): readonly MatchedRoute[] => (c.req as unknown as { matchedRoutes: readonly MatchedRoute[] }).matchedRoutes
const routeIndexOf = (c: Context): number => (c.req as unknown as { routeIndex?: number }).routeIndex ?? 0

// A route that can name the operation: not Lifeguard's middleware itself, not catch-all middleware.
function names(route: MatchedRoute | undefined, self: unknown): route is MatchedRoute {
  return route !== undefined && handlerOf(route) !== self && !isCatchAll(route)
}

// Not a type guard: a route that does not answer may still name the operation (see `defaultOperation`). A
// middleware for one method (`app.get('*', cache())`, `app.get('/admin/:section', requireAdmin)`) answers no
// more than one for all. (A handler that declares `next` is taken for one too until the response is out.)
function answers(route: MatchedRoute | undefined, self: unknown): boolean {
  return names(route, self) && !takesNext(route)
}

// Catch-all middleware (`app.use(fn)`, `app.use('*', fn)`) says nothing about the operation.
function isCatchAll(route: MatchedRoute): boolean {
  return route.method === 'ALL' && (route.path === '*' || route.path === '/*')
}

// A sub-app with its own `onError` has each of its routes wrapped (`app.route()`); Hono keeps the user's
// function on the wrapper.
function handlerOf(route: MatchedRoute): unknown {
  const handler = route.handler as { __COMPOSED_HANDLER?: unknown } | undefined
  return handler?.__COMPOSED_HANDLER ?? handler
}

// Middleware is `(c, next) => ...`; a handler answers and has no use for `next`.
function takesNext(route: MatchedRoute): boolean {
  const handler = handlerOf(route)
  return typeof handler === 'function' && handler.length >= 2
}
