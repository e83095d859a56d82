import type { OperationContext } from '@lifeguard/core'
import { HttpOperation, httpMiddlewareSettings, onResponseClose, pathOf, sentInFull } from '@lifeguard/core/http'
import type { Request, RequestHandler, Response } from 'express'
import { attachContext, contextOf, prepareRequest } from './internal/request-contexts.js'
import { routeName, type RouteLike } from './internal/route-name.js'
import { expressRules, rejectMapErrors, type LifeguardOptions } from './options.js'

declare global {
  // Express's own extension point for request properties.
  namespace Express {
    interface Request {
      /** The request's operation context, set by the `lifeguard()` middleware for everything below it. */
      lifeguard: OperationContext
    }
  }
}

/**
 * Express middleware that gives every request its own service scope and `OperationContext`: reachable as
 * `req.lifeguard` and through `OperationContext.current()` in any code below it. The request id comes from
 * `x-request-id` when sane (else a new UUID-shaped one) and is echoed in the response. When the client goes away the
 * context's `signal` aborts. The scope is disposed exactly once: when the response has finished (streamed
 * bodies included), or, after a disconnect, when the handler ends the response or `abortGraceMillis` (default
 * 1000 ms) after the disconnect, whichever comes first, so a handler that never ends the response may still be
 * running when its scope is disposed. A disposal failure goes to the container's `onError` and never touches
 * the response.
 *
 * The operation is named `METHOD route-pattern` (e.g. `GET /orders/:id`) after the route running when the name
 * is read, as soon as Express has routed the request (`METHOD path` until then, and when no route matched). A
 * route that passes the request on (`next()`, `next('route')`) hands the name to the next; once the response
 * has finished, the name of the route that answered is kept.
 *
 * @throws {InvalidOptionError} for a missing container or a bad option
 * @example
 * const app = express()
 * app.use(lifeguard({ container, handlerName: 'orders-api' }))
 * app.get('/orders/:id', async (req, res) => {
 *   res.json(await req.lifeguard.get<OrdersRepo>('orders').find(req.params.id))
 * })
 */
export function lifeguard(options: LifeguardOptions): RequestHandler {
  rejectMapErrors(options)
  const settings = httpMiddlewareSettings<Request>(options, expressRules)
  const { operationName, requestIdHeader } = settings
  const abortGraceMillis = options.abortGraceMillis ?? 1000

  // Express gives every request object a prototype chain of its own (see request-contexts.ts), so each
  // property read on `req` or `res` misses V8's caches (2k to 5k instructions each, measured): this path
  // reads each one once.
  return function lifeguardContext(req, res, next) {
    // Before the scope exists: a request that cannot have `req.lifeguard` fails with nothing to give back. (Also
    // when mounted again: a sub-app of another copy of Express gives the request a chain of its own.)
    prepareRequest(req)
    // Mounted twice (app and router): one request, one operation.
    if (contextOf(req) !== undefined) return next()
    const method = req.method
    // The route the name was last built for, and that name.
    let namedFor: RouteLike | undefined
    let named = ''
    const routeNamed = (route: RouteLike): string => {
      if (route !== namedFor) {
        namedFor = route
        named = operationName?.(req) ?? routeName(req, method, route)
      }
      return named
    }
    // The user's `operationName`, else METHOD route-pattern, built when something reads it. Express routes with
    // no hook to tell: late, after an async middleware, and again when a route passes the request on (`next()`,
    // `next('route')`). So while the request runs the name is not kept but asked again on each read: one read of
    // `req.route` (a miss in V8's caches, see above) and, while the route is the same, the name built for it.
    // Each handler reads its own route's name. Before routing it is `METHOD path`, for now.
    const name = (): string => {
      const route = req.route as RouteLike | undefined
      operation.rename(name)
      return route === undefined ? (operationName?.(req) ?? `${method} ${pathOf(req.originalUrl ?? req.url)}`) : routeNamed(route)
    }
    // The name of the route that answered, as a builder that holds nothing else: the context, which outlives its
    // request a little (timers created under it keep it), then no longer holds `req` (left lazy, the collector
    // did 8% more work a request on Node 20, measured).
    const keepName = (): void => {
      const route = req.route as RouteLike | undefined
      if (route !== undefined) operation.rename(kept(routeNamed(route)))
    }
    const operation = new HttpOperation(settings, name, req.headers[requestIdHeader])
    const { context } = operation
    attachContext(req, context)
    // Set at once, not as the headers are written (echoHeaderOnWrite, as on Koa and Hono): an own `writeHead`
    // on Express's responses cost 40k+ instructions a request on Node 20 (measured), where it saves 3k elsewhere.
    try {
      res.setHeader(requestIdHeader, operation.requestId)
    } catch {
      // A middleware mounted before this one sent the response, then called next(): nothing to echo, and the
      // operation ends with that response (its 'close' is watched below).
    }
    // 'close' follows 'finish', and also comes alone when the connection drops first (or the connection's
    // own, for a pipelined response still waiting in line).
    const onClose = (): void => {
      const finished = sentInFull(res)
      // The route that answered is final. After a disconnect the handler may go on, and pass the request on to
      // another route: its name is kept once the handler is done (see `settleWhenHandlerEnds`).
      if (finished) keepName()
      operation.closed(finished)
      if (!finished) settleWhenHandlerEnds(res, operation, keepName, abortGraceMillis)
    }
    onResponseClose(req, res, onClose)
    operation.run(next)
    // Routing is synchronous unless an async middleware sits in between: a request routed by now has its route's
    // name built now, while the router's state a user's name may read (`req.baseUrl`) is still the route's. An
    // error thrown later (an async handler's) leaves the router, which puts back the `req.baseUrl` it had when it
    // entered, before the error handler reads the name. A later route still names the operation after itself.
    const route = req.route as RouteLike | undefined
    if (route !== undefined) routeNamed(route)
  }
}

// A name built already, as a builder that holds nothing else: the context checks it (and cuts it to a printable
// length) only if something reads it.
function kept(name: string): () => string {
  return () => name
}

// Express does not hand middleware the handler's promise. After a disconnect, ending the response (the
// handler's own `res.json()` or the error handler's) emits only 'prefinish': that marks the handler as done
// with its resources. A handler that never ends the response gets `graceMillis` before its scope is
// disposed anyway. `keepName` first: the route running then is the last to name the operation.
function settleWhenHandlerEnds(res: Response, operation: HttpOperation, keepName: () => void, graceMillis: number): void {
  if (res.writableEnded) {
    keepName()
    return operation.settled()
  }
  let waiting = true
  const done = (): void => {
    if (!waiting) return
    waiting = false
    clearTimeout(timer)
    res.off('prefinish', done)
    keepName()
    operation.settled()
  }
  const timer = setTimeout(done, graceMillis)
  timer.unref()
  res.once('prefinish', done)
  // A pipelined response that never got the connection emits nothing when it is ended, 'prefinish' included:
  // its own `end()` tells instead. Only here, after a disconnect: an own property on every Express response
  // costs far more than it would save.
  if (res.socket === null) afterEnd(res, done)
}

function afterEnd(res: Response, ended: () => void): void {
  const end = res.end
  res.end = function endThenSettle(this: Response, ...args: Parameters<Response['end']>) {
    try {
      return end.apply(this, args)
    } finally {
      ended()
    }
  } as Response['end']
}
