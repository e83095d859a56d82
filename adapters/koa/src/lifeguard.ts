import type { OperationContext } from '@lifeguard/core'
import { describesReplacedBody, echoHeaderOnWrite, HttpOperation, httpMiddlewareSettings, mapErrorsRule, operationNameOf, poolPressureBody, poolPressureCode, onResponseClose, retryAfterFrom, sentInFull } from '@lifeguard/core/http'
import type { Middleware, ParameterizedContext } from 'koa'
import type { LifeguardOptions } from './options.js'

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
 * from `x-request-id` when sane (else a new UUID-shaped one) and is echoed in the response, error responses included.
 * When the client goes away the context's `signal` aborts. The scope is disposed exactly once, when the
 * response has finished (streamed bodies included) or, after a disconnect, when the middleware below has
 * settled; a disposal failure goes to the container's `onError` and never touches the response.
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
  const settings = httpMiddlewareSettings<ParameterizedContext>(options, { mapErrors: mapErrorsRule })
  const { operationName, requestIdHeader } = settings
  const retryAfter = retryAfterFrom(options.mapErrors)

  // Pool pressure becomes a 503 when asked; every other error goes on to Koa.
  const failed = (ctx: ParameterizedContext, error: unknown): void => {
    const code = ctx.headerSent ? undefined : poolPressureCode(error)
    if (code === undefined) throw error
    // A handler that meant to answer by itself (`ctx.respond = false`) failed before it did: Koa answers this
    // one, or nothing would.
    ctx.respond = true
    // What the handler set for the body it was producing does not describe this one (CORS, cookies stay).
    for (const name of ctx.res.getHeaderNames()) if (describesReplacedBody(name)) ctx.remove(name)
    ctx.status = 503
    ctx.set('Retry-After', retryAfter!)
    ctx.body = poolPressureBody(code)
  }

  // Not an async function: on Node 20 every promise pays AsyncLocalStorage's hooks.
  return function lifeguardContext(ctx, next) {
    // Mounted twice (app and router): one request, one operation.
    if (ctx.state.lifeguard !== undefined) return next()
    // The user's name, else `METHOD route-pattern`, built only if something reads it (see HttpOperation), from
    // the route matched by then.
    const name = (): string => {
      const route = matchedRoute(ctx)
      // Not routed yet (an async middleware sits before the router): a name for now, not kept, so that a read
      // once routed (route-labelled metrics, pool events) gets the route's name, not a path with ids in it.
      if (route === undefined) operation.rename(name)
      return operationName?.(ctx) ?? operationNameOf(ctx.method, route, ctx.originalUrl)
    }
    const operation: HttpOperation = new HttpOperation(settings, name, ctx.req.headers[requestIdHeader])
    const { context } = operation
    ctx.state.lifeguard = context
    const res = ctx.res
    // Echoed as the headers are written, so also on Koa's error response, which first removes every header.
    echoHeaderOnWrite(res, requestIdHeader, operation.requestId)
    let namedFor: unknown
    // Koa answers once the chain has settled: 'close' (after 'finish', or alone on a disconnect; the
    // connection's own for a pipelined response still waiting in line) ends it.
    const onClose = (): void => {
      // A name read before a router further down matched (a nested one) is asked again.
      if (matchedRoute(ctx) !== namedFor) operation.rename(name)
      const finished = sentInFull(res)
      // A handler that answers by itself (`ctx.respond = false`) may go on working once it has: its scope
      // waits for the chain to settle.
      if (finished && ctx.respond === false) operation.finishedByHandler()
      else operation.closed(finished)
    }
    onResponseClose(ctx.req, res, onClose)
    const downstream = operation.run(next)
    // @koa/router matches synchronously unless an async middleware sits in between: name the operation now if we can.
    namedFor = matchedRoute(ctx)
    if (namedFor !== undefined) operation.rename(name)
    return retryAfter === undefined ? downstream : downstream.then(undefined, (error: unknown) => failed(ctx, error))
  }
}

function matchedRoute(ctx: ParameterizedContext): unknown {
  return (ctx as { _matchedRoute?: unknown })._matchedRoute
}
