import type { OperationContext } from '@lifeguard/core'
import { describesReplacedBody, echoHeaderOnWrite, HttpOperation, httpMiddlewareSettings, mapErrorsRule, operationNameOf, poolPressureBody, poolPressureCode, onResponseClose, retryAfterFrom, sentInFull } from '@lifeguard/core/http'
import type { Middleware, ParameterizedContext } from 'koa'
import { matchedLayerPath, routePattern } from './internal/matched-route.js'
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
 * settled; a disposal failure goes to the container's `onError` and never touches the response. A response
 * sent by a handler that answers by itself (`ctx.respond = false`), or by a middleware above before this one
 * ran, keeps the scope until the middleware below has settled too.
 *
 * The operation is named `METHOD route-pattern` from `@koa/router` (e.g. `GET /orders/:id`) as soon as the
 * router has matched (`METHOD path` until then, and when no route matched), after the route running when the
 * name is read: a route that passes the request on hands the name to the next, and a `router.use()` middleware
 * reads the name of the route matched. Once the response has finished, the name of the route that answered is kept.
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
    // The path of the router's layer the name was last built for, and that name.
    let namedFor: unknown
    let named = ''
    const layerNamed = (layerPath: unknown): string => {
      if (layerPath !== namedFor) {
        namedFor = layerPath
        named = operationName?.(ctx) ?? operationNameOf(ctx.method, routePattern(ctx, layerPath), ctx.originalUrl)
      }
      return named
    }
    // The user's name, else `METHOD route-pattern`, built only if something reads it (see HttpOperation).
    // @koa/router matches late (after an async middleware, with no hook to tell) and runs each matched layer in
    // turn: a `router.use()` middleware, then the route, which may pass the request on to another route. So
    // while the request runs the name is not kept but asked again on each read (built again only when the
    // layer has changed): each handler reads its own route's name. Before the match it is `METHOD path`, for now.
    const name = (): string => {
      const layerPath = matchedLayerPath(ctx)
      operation.rename(name)
      return layerPath === undefined ? (operationName?.(ctx) ?? operationNameOf(ctx.method, undefined, ctx.originalUrl)) : layerNamed(layerPath)
    }
    // The name of the route that answered, as a builder that holds nothing else: the context, which outlives its
    // request a little (timers created under it keep it), then no longer holds `ctx` (the request, the response,
    // the body). Only once something has read the name while routed: a name nothing asked for stays with its
    // builder (and `ctx`), since building it for every request cost 1.4k instructions each (1%, Node 20, measured).
    const keepName = (): void => {
      const layerPath = matchedLayerPath(ctx)
      if (layerPath !== undefined && namedFor !== undefined) operation.rename(kept(layerNamed(layerPath)))
    }
    const operation: HttpOperation = new HttpOperation(settings, name, ctx.req.headers[requestIdHeader])
    const { context } = operation
    ctx.state.lifeguard = context
    const res = ctx.res
    // A middleware above answered already (on `ctx.res`, before calling `next()`): the chain below may still run
    // and use its services, so its scope waits for the chain, as for a handler that answers by itself.
    const answeredAbove = res.writableEnded
    // Echoed as the headers are written, so also on Koa's error response, which first removes every header.
    echoHeaderOnWrite(res, requestIdHeader, operation.requestId)
    // Koa answers once the chain has settled: 'close' (after 'finish', or alone on a disconnect; the
    // connection's own for a pipelined response still waiting in line) ends it.
    const onClose = (): void => {
      const finished = sentInFull(res)
      // The route that answered is final. After a disconnect the chain may go on, and pass the request on to
      // another route: its name is kept once the chain has settled (before the scope is disposed then).
      if (finished) keepName()
      else downstream.then(keepName, keepName)
      // A handler that answers by itself (`ctx.respond = false`) may go on working once it has: its scope
      // waits for the chain to settle.
      if (finished && (ctx.respond === false || answeredAbove)) operation.finishedByHandler()
      else operation.closed(finished)
    }
    onResponseClose(ctx.req, res, onClose)
    const downstream = operation.run(next)
    return retryAfter === undefined ? downstream : downstream.then(undefined, (error: unknown) => failed(ctx, error))
  }
}

// A name built already, as a builder that holds nothing else: the context checks it (and cuts it to a printable
// length) only if something reads it.
function kept(name: string): () => string {
  return () => name
}
