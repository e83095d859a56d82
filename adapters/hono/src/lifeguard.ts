import type { IncomingMessage, ServerResponse } from 'node:http'
import { OperationContext } from '@lifeguard/core'
import { poolPressureBody, poolPressureCode, requestIdFrom } from '@lifeguard/core/http'
import type { Context, MiddlewareHandler } from 'hono'
import { defaultOperation } from './internal/operation-name.js'
import { settingsFrom, type LifeguardOptions } from './options.js'

/** The variables `lifeguard()` adds to every request: `c.get('lifeguard')`, `c.var.lifeguard`. */
export interface LifeguardVariables {
  /** The request's operation context. */
  lifeguard: OperationContext
}

/** A Hono `Env` with Lifeguard's variables, for `new Hono<LifeguardEnv>()` or a handler's type. */
export interface LifeguardEnv {
  Variables: LifeguardVariables
}

declare module 'hono' {
  interface ContextVariableMap {
    /** The request's operation context, set by the `lifeguard()` middleware for everything below it. */
    lifeguard: OperationContext
  }
}

/** What `@hono/node-server` passes as `c.env`. */
interface NodeBindings {
  incoming?: IncomingMessage
  outgoing?: ServerResponse
}

/**
 * Hono middleware that gives every request its own service scope and `OperationContext`: reachable as
 * `c.get('lifeguard')` / `c.var.lifeguard` and through `OperationContext.current()` in any code below it.
 * The operation is named `METHOD route-pattern` (e.g. `GET /orders/:id`, or `METHOD path` when no route
 * matched). The request id comes from `x-request-id` when sane (else a new UUID) and is echoed in the
 * response. On `@hono/node-server`, the context's `signal` aborts when the client goes away, and the scope is
 * disposed exactly once, when the middleware below has settled and the response has finished (streamed
 * bodies included) or the connection closed. On other runtimes the scope is disposed when the middleware
 * below has settled, and the signal follows the request's own signal. A disposal failure goes to the
 * container's `onError` and never touches the response.
 *
 * @throws {InvalidOptionError} for a missing container or a bad option
 * @example
 * const app = new Hono()
 * app.use(lifeguard({ container, handlerName: 'orders-api' }))
 * app.get('/orders/:id', async (c) => c.json(await c.get('lifeguard').get<OrdersRepo>('orders').find(c.req.param('id'))))
 * serve({ fetch: app.fetch, port: 3000 })
 */
export function lifeguard(options: LifeguardOptions): MiddlewareHandler<LifeguardEnv> {
  const { container, handlerName, operationName, header, deadlineMillis, retryAfter } = settingsFrom(options)

  const reportDisposeError = (error: unknown): void => container.reportError(error)
  const dispose = (context: OperationContext): void => {
    context.dispose().then(undefined, reportDisposeError)
  }
  const mapError = (c: Context): void => {
    const code = retryAfter === undefined || c.error === undefined ? undefined : poolPressureCode(c.error)
    if (code !== undefined) c.res = c.json(poolPressureBody(code), 503, { 'Retry-After': retryAfter! })
  }

  // Not an async function: on Node 20 every promise pays AsyncLocalStorage's hooks, so the chain below gets one `then`.
  const middleware: MiddlewareHandler<LifeguardEnv> = function lifeguardContext(c, next) {
    // Mounted twice (app and sub-app): one request, one operation.
    if (c.get('lifeguard') !== undefined) return next()
    const operation = operationName?.(c) ?? defaultOperation(c, middleware)
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings
    if (incoming === undefined || outgoing === undefined || typeof outgoing.setHeader !== 'function') {
      return runPortable(c, next, operation)
    }
    const requestId = requestIdFrom(incoming.headers[header])
    const context = OperationContext.create(handlerName, operation, { container, requestId, deadlineMillis })
    c.set('lifeguard', context)
    // Straight onto the Node response: Hono's own header API would build a Headers object per request.
    outgoing.setHeader(header, requestId)
    // Disposed when both the middleware below has settled and the response is done, whichever comes last.
    let settled = false
    let closed = false
    outgoing.on('close', () => {
      closed = true
      if (!outgoing.writableFinished) context.abort()
      if (settled) dispose(context)
    })
    const settle = (): void => {
      settled = true
      if (closed) dispose(context)
    }
    return downstreamOf(context, next).then(
      () => {
        mapError(c)
        settle()
      },
      (error: unknown) => {
        settle()
        throw error
      },
    )
  }

  // Fetch-only runtimes (and `app.request()` in tests): no Node response to watch.
  function runPortable(c: Context, next: () => Promise<void>, operation: string): Promise<void> {
    const requestId = requestIdFrom(c.req.header(header))
    const context = OperationContext.create(handlerName, operation, { container, requestId, deadlineMillis, signal: c.req.raw.signal })
    c.set('lifeguard', context)
    c.header(header, requestId)
    return downstreamOf(context, next).then(
      () => {
        mapError(c)
        dispose(context)
      },
      (error: unknown) => {
        dispose(context)
        throw error
      },
    )
  }

  return middleware
}

function downstreamOf(context: OperationContext, next: () => Promise<void>): Promise<void> {
  try {
    return context.run(next)
  } catch (error) {
    return Promise.reject(error)
  }
}
