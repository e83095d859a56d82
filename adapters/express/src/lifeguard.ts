import { OperationContext } from '@lifeguard/core'
import { requestIdFrom } from '@lifeguard/core/http'
import type { Request, RequestHandler, Response } from 'express'
import { nameOperation, pathOf } from './internal/operation-name.js'
import { attachContext, contextOf } from './internal/request-contexts.js'
import { settingsFrom, type LifeguardOptions } from './options.js'

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
 * `x-request-id` when sane (else a new UUID) and is echoed in the response. When the client goes away the
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
  const { container, handlerName, operationName, header, deadlineMillis, abortGraceMillis } = settingsFrom(options)

  const operationOf = (req: Request): string => operationName?.(req) ?? defaultOperation(req)
  const reportDisposeError = (error: unknown): void => container.reportError(error)
  const dispose = (context: OperationContext): void => {
    context.dispose().then(undefined, reportDisposeError)
  }

  // Express gives every request object a hidden class of its own (see request-contexts.ts), so each property
  // read on `req` or `res` is a slow lookup: this path reads as few as it can.
  return function lifeguardContext(req, res, next) {
    // Mounted twice (app and router): one request, one operation.
    if (contextOf(req) !== undefined) return next()
    const method = req.method
    const requestId = requestIdFrom(req.headers[header])
    const provisional = operationName?.(req) ?? `${method} ${pathOf(req.originalUrl ?? req.url)}`
    const context = OperationContext.create(handlerName, provisional, { container, requestId, deadlineMillis })
    attachContext(req, context)
    res.setHeader(header, requestId)
    let routed = false
    // 'close' follows 'finish', and also comes alone when the connection drops first.
    res.on('close', () => {
      if (!routed) nameOperation(context, operationOf(req))
      if (res.writableFinished) return dispose(context)
      context.abort()
      if (res.writableEnded) return dispose(context)
      disposeWhenHandlerEnds(res, context, abortGraceMillis, dispose)
    })
    context.run(next)
    // Routing is synchronous unless an async middleware sits in between: name the operation now if we can.
    const route = req.route as { path?: unknown } | undefined
    if (route !== undefined) {
      routed = true
      nameOperation(context, operationName?.(req) ?? `${method} ${req.baseUrl}${routePath(route)}`)
    }
  }
}

function defaultOperation(req: Request): string {
  const route = req.route as { path?: unknown } | undefined
  if (route === undefined) return `${req.method} ${pathOf(req.originalUrl ?? req.url)}`
  return `${req.method} ${req.baseUrl}${routePath(route)}`
}

function routePath(route: { path?: unknown }): string {
  return typeof route.path === 'string' ? route.path : String(route.path)
}

// After a disconnect, ending the response (the handler's own `res.json()` or the error handler's) emits
// only 'prefinish': that marks the handler as done with its resources. A handler that never ends the
// response gets `graceMillis` before its scope is disposed anyway.
function disposeWhenHandlerEnds(
  res: Response,
  context: OperationContext,
  graceMillis: number,
  dispose: (context: OperationContext) => void,
): void {
  const done = (): void => {
    clearTimeout(timer)
    res.off('prefinish', done)
    dispose(context)
  }
  const timer = setTimeout(done, graceMillis)
  timer.unref()
  res.once('prefinish', done)
}
