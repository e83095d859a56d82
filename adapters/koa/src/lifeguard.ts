import { OperationContext } from '@lifeguard/core'
import { poolPressureBody, poolPressureCode, requestIdFrom } from '@lifeguard/core/http'
import type { Middleware, ParameterizedContext } from 'koa'
import { nameOperation, pathOf } from './internal/operation-name.js'
import { settingsFrom, type LifeguardOptions } from './options.js'

/** The state `lifeguard()` adds to every request: `ctx.state.lifeguard`. */
export interface LifeguardState {
  /** The request's operation context. */
  lifeguard: OperationContext
}

declare module 'koa' {
  interface DefaultState {
    /** The request's operation context, set by the `lifeguard()` middleware for everything below it. */
    lifeguard: OperationContext
  }
}

/**
 * Koa middleware that gives every request its own service scope and `OperationContext`: reachable as
 * `ctx.state.lifeguard` and through `OperationContext.current()` in any code below it. The request id comes
 * from `x-request-id` when sane (else a new UUID) and is echoed in the response, error responses included.
 * When the client goes away the context's `signal` aborts. The scope is disposed exactly once, when the
 * middleware below has settled and the response has finished (streamed bodies included) or the connection
 * closed; a disposal failure goes to the container's `onError` and never touches the response.
 *
 * The operation is named `METHOD route-pattern` from `@koa/router` (e.g. `GET /orders/:id`) as soon as the
 * router has matched (`METHOD path` until then, and when no route matched).
 *
 * @throws {InvalidOptionError} for a missing container or a bad option
 * @example
 * const app = new Koa()
 * app.use(lifeguard({ container, handlerName: 'orders-api' }))
 * router.get('/orders/:id', async (ctx) => {
 *   ctx.body = await ctx.state.lifeguard.get<OrdersRepo>('orders').find(ctx.params.id)
 * })
 * app.use(router.routes())
 */
export function lifeguard(options: LifeguardOptions): Middleware<LifeguardState> {
  const { container, handlerName, operationName, header, deadlineMillis, retryAfter } = settingsFrom(options)

  const operationOf = (ctx: ParameterizedContext): string => operationName?.(ctx) ?? defaultOperation(ctx)
  const reportDisposeError = (error: unknown): void => container.reportError(error)
  const finish = (ctx: ParameterizedContext, context: OperationContext): void => {
    nameOperation(context, operationOf(ctx))
    context.dispose().then(undefined, reportDisposeError)
  }

  // Pool pressure becomes a 503 when asked; every other error goes on to Koa, carrying the request id.
  const failed = (ctx: ParameterizedContext, error: unknown, requestId: string): void => {
    const code = retryAfter === undefined || ctx.headerSent ? undefined : poolPressureCode(error)
    if (code === undefined) {
      keepHeaderOnError(error, header, requestId)
      throw error
    }
    ctx.status = 503
    ctx.set('Retry-After', retryAfter!)
    ctx.body = poolPressureBody(code)
  }

  // Not an async function: on Node 20 every promise pays AsyncLocalStorage's hooks, so the chain below gets one `then`.
  return function lifeguardContext(ctx, next) {
    // Mounted twice (app and router): one request, one operation.
    if (ctx.state.lifeguard !== undefined) return next()
    const requestId = requestIdFrom(ctx.req.headers[header])
    const context = OperationContext.create(handlerName, operationOf(ctx), { container, requestId, deadlineMillis })
    ctx.state.lifeguard = context
    const res = ctx.res
    res.setHeader(header, requestId)
    // Disposed when both the middleware below has settled and the response is done, whichever comes last.
    let settled = false
    let closed = false
    res.on('close', () => {
      closed = true
      if (!res.writableFinished) context.abort()
      if (settled) finish(ctx, context)
    })
    const settle = (): void => {
      settled = true
      if (closed) finish(ctx, context)
    }
    let downstream: Promise<void>
    try {
      downstream = context.run(next)
    } catch (error) {
      downstream = Promise.reject(error)
    }
    // @koa/router matches synchronously unless an async middleware sits in between: name the operation now if we can.
    if ((ctx as { _matchedRoute?: unknown })._matchedRoute !== undefined) nameOperation(context, operationOf(ctx))
    return downstream.then(settle, (error: unknown) => {
      settle()
      failed(ctx, error, requestId)
    })
  }
}

function defaultOperation(ctx: ParameterizedContext): string {
  const route = (ctx as { _matchedRoute?: unknown })._matchedRoute
  if (route === undefined) return `${ctx.method} ${pathOf(ctx.originalUrl)}`
  return `${ctx.method} ${typeof route === 'string' ? route : String(route)}`
}

// Koa's error response starts by removing every header and then sets `error.headers` (its http-errors
// convention, which Koa itself writes to): carry the request id there so the 500 is correlated too.
function keepHeaderOnError(error: unknown, header: string, requestId: string): void {
  if (typeof error !== 'object' || error === null) return
  const carrier = error as { headers?: unknown }
  try {
    if (carrier.headers === undefined) carrier.headers = { [header]: requestId }
    else if (typeof carrier.headers === 'object' && carrier.headers !== null) carrier.headers = { ...carrier.headers, [header]: requestId }
  } catch {
    // A frozen error keeps its headers; the response simply goes without the id.
  }
}
