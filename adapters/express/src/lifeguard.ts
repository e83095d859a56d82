import type { OperationContext } from '@lifeguard/core'
import { HttpOperation, httpMiddlewareSettings, onResponseClose, pathOf, sentInFull } from '@lifeguard/core/http'
import type { Request, RequestHandler, Response } from 'express'
import { attachContext, contextOf } from './internal/request-contexts.js'
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
 * context's `signal` aborts. The scope is disposed exactly once, when the response has finished (streamed
 * bodies included) or, after a disconnect, when the handler has ended the response; a disposal failure goes
 * to the container's `onError` and never touches the response.
 *
 * The operation is named `METHOD route-pattern` (e.g. `GET /orders/:id`) as soon as Express has routed the
 * request (`METHOD path` until then, and when no route matched).
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
    // Mounted twice (app and router): one request, one operation.
    if (contextOf(req) !== undefined) return next()
    const method = req.method
    // Set already when the middleware is mounted on a route; otherwise once the router has matched.
    const route = req.route as RouteLike | undefined
    const self = (): HttpOperation => operation
    const operation: HttpOperation = new HttpOperation(
      settings,
      // (Built as a function, as the other names are, so the context keeps it printable and bounded: a
      // parameterized mount path puts what the client sent in `req.baseUrl`.)
      route === undefined ? untilRouted(req, method, operationName, self) : () => operationName?.(req) ?? `${method} ${req.baseUrl}${String(route.path)}`,
      req.headers[requestIdHeader],
    )
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
      operation.closed(finished)
      if (!finished) settleWhenHandlerEnds(res, operation, abortGraceMillis)
    }
    onResponseClose(req, res, onClose)
    operation.run(next)
    // Routing is synchronous unless an async middleware sits in between: a routed request is named now (a name
    // read once routed is kept), while the router's state a user's name may read (`req.baseUrl`) is most likely
    // still the route's. Left lazy, the name would hold `req` for as long as the context lives, and a context
    // outlives its request a little (timers created under it keep it): on Node 20 the collector then did 8% more
    // work a request (measured), more than building the name costs.
    if (req.route !== undefined) void context.operation
  }
}

// The name of a request not routed when the middleware ran, built when something reads it: the user's
// `operationName`, else METHOD route-pattern. After an async middleware Express routes later, with no hook to
// tell: a query in the handler then reads the route's name here, and one before routing gets a name for now
// (the user's, else `METHOD path`), not kept, so that a later read (route-labelled metrics, pool events) gets
// the route's name instead of a path with ids in it.
function untilRouted(req: Request, method: string, operationName: ((req: Request) => string | undefined) | undefined, operation: () => HttpOperation): () => string {
  const name = (): string => {
    const route = req.route as RouteLike | undefined
    const custom = operationName?.(req)
    if (route !== undefined) return custom ?? routeName(req, method, route)
    operation().rename(name)
    return custom ?? `${method} ${pathOf(req.originalUrl ?? req.url)}`
  }
  return name
}

// Express does not hand middleware the handler's promise. After a disconnect, ending the response (the
// handler's own `res.json()` or the error handler's) emits only 'prefinish': that marks the handler as done
// with its resources. A handler that never ends the response gets `graceMillis` before its scope is
// disposed anyway.
function settleWhenHandlerEnds(res: Response, operation: HttpOperation, graceMillis: number): void {
  if (res.writableEnded) return operation.settled()
  let waiting = true
  const done = (): void => {
    if (!waiting) return
    waiting = false
    clearTimeout(timer)
    res.off('prefinish', done)
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
