import type { IncomingMessage, ServerResponse } from 'node:http'
import type { OperationContext } from '@lifeguard/core'
import { describesReplacedBody, echoHeaderOnWrite, HttpOperation, httpMiddlewareSettings, mapErrorsRule, poolPressureBody, poolPressureCode, onResponseClose, retryAfterFrom, sentInFull } from '@lifeguard/core/http'
import type { Context, MiddlewareHandler, Next } from 'hono'
import { cancelBody, holdUntilSent } from './internal/hold-until-sent.js'
import { answeringRouteRuns, defaultOperation } from './internal/operation-name.js'
import type { LifeguardOptions } from './options.js'

// Type aliases, not interfaces: Hono before 4.5 requires its `Env` to have a string index signature, which
// an object type alias satisfies and an interface does not.

/** The variables `lifeguard()` adds to every request: `c.get('lifeguard')`, `c.var.lifeguard`. */
export type LifeguardVariables = {
  /** The request's operation context. */
  lifeguard: OperationContext
}

/** A Hono `Env` with Lifeguard's variables, for `new Hono<LifeguardEnv>()` or a handler's type. */
export type LifeguardEnv = {
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
 * matched). The request id comes from `x-request-id` when sane (else a new UUID-shaped one) and is echoed in the
 * response. The context's `signal` aborts when the client goes away. The scope is disposed exactly once,
 * when the response has been sent (streamed bodies included) or, after a disconnect, when the middleware
 * below has settled. A disposal failure goes to the container's `onError` and never touches the response.
 * Works with Hono's ESM and CommonJS builds, on `@hono/node-server`, and with `app.request()`; fetch-style
 * runtimes need Node's APIs (`node:async_hooks`, see the README).
 *
 * @throws {InvalidOptionError} for a missing container or a bad option
 * @example
 * const app = new Hono()
 * app.use(lifeguard({ container, handlerName: 'orders-api' }))
 * app.get('/orders/:id', async (c) => c.json(await c.get('lifeguard').get<OrdersRepo>('orders').find(c.req.param('id'))))
 * serve({ fetch: app.fetch, port: 3000 })
 */
export function lifeguard(options: LifeguardOptions): MiddlewareHandler<LifeguardEnv> {
  const settings = httpMiddlewareSettings<Context>(options, { mapErrors: mapErrorsRule })
  const { operationName, requestIdHeader } = settings
  const retryAfter = retryAfterFrom(options.mapErrors)

  // Hono answers a thrown error with its onError response: with mapErrors, pool pressure gets a 503 instead.
  const mapError = (c: Context): void => {
    const code = c.error === undefined ? undefined : poolPressureCode(c.error)
    if (code === undefined) return
    const headers = new Headers()
    // What described the body being replaced (its Content-Length, Content-Encoding, ETag, ...) goes; CORS and
    // cookies stay.
    for (const [name, value] of c.res.headers) if (!describesReplacedBody(name)) headers.append(name, value)
    headers.set('content-type', 'application/json')
    headers.set('retry-after', retryAfter!)
    const answer = new Response(JSON.stringify(poolPressureBody(code)), { status: 503, headers })
    // Assigned over a response, `c.res` takes every header of it: cleared first.
    c.res = undefined
    c.res = answer
  }

  // Not an async function: on Node 20 every promise pays AsyncLocalStorage's hooks, so the chain below gets at most one `then`.
  const middleware: MiddlewareHandler<LifeguardEnv> = function lifeguardContext(c, next) {
    // Mounted twice (app and sub-app): one request, one operation.
    if (c.get('lifeguard') !== undefined) return next()
    // The name is built only if something reads it (see HttpOperation); the user's too, as on Express and Koa:
    // `c.req.routePath` and `c.req.param()` are the route's only once its handler runs. Read before that (a
    // middleware's query), it is a name for now, asked again later.
    const name = (): string => {
      if (!answeringRouteRuns(c, middleware)) operation.rename(name)
      return (operationName === undefined ? undefined : operationName(c)) ?? defaultOperation(c, middleware)
    }
    const { incoming, outgoing } = (c.env ?? {}) as NodeBindings
    // Set before the name can be read (nothing reads it while the operation is made).
    let operation: HttpOperation
    if (incoming === undefined || typeof outgoing?.setHeader !== 'function') {
      operation = new HttpOperation(settings, name, c.req.header(requestIdHeader), c.req.raw.signal)
      return runPortable(c, next, operation)
    }
    // On @hono/node-server, the Node response is watched directly: its headers, its 'close' event. Hono's own
    // header API and the request's signal would each build an object per request.
    operation = new HttpOperation(settings, name, incoming.headers[requestIdHeader])
    c.set('lifeguard', operation.context)
    // node-server writes the response once Hono has one (`c.finalized`): a head written before that was the
    // handler's own (on `c.env.outgoing`, returning `RESPONSE_ALREADY_SENT`), and the handler, or a middleware
    // below this one, may go on working after it. (`timeout()`'s answer sets `c.res`: written by node-server.)
    // A head already written was a middleware's above (an answer before `next()`): the chain below may go on
    // working, as after a handler's own.
    let writtenByHandler = outgoing.headersSent
    echoHeaderOnWrite(outgoing, requestIdHeader, operation.requestId, () => {
      if (!c.finalized) writtenByHandler = true
    })
    // The response is written once the chain has settled: 'close' (after 'finish', or alone on a disconnect;
    // the connection's own for a pipelined response still waiting in line) ends it. One the handler wrote
    // leaves the scope to the chain's end.
    const onClose = (): void => {
      const finished = sentInFull(outgoing)
      if (finished && writtenByHandler) operation.finishedByHandler()
      else operation.closed(finished)
    }
    onResponseClose(incoming, outgoing, onClose)
    const downstream = operation.run(next)
    const answered = retryAfter === undefined ? downstream : downstream.then(() => mapError(c))
    // A HEAD request is answered from the GET route, whose body Hono drops unread: cancelled here, a streamed
    // body's producer stops (its `onAbort` runs) instead of waiting for good on a write nobody reads.
    return incoming.method === 'HEAD' ? answered.then(() => cancelBody(c)) : answered
  }

  // Fetch-style runtimes (and `app.request()`): the request's own signal, Hono's header API, and the body.
  function runPortable(c: Context, next: Next, operation: HttpOperation): Promise<void> {
    c.set('lifeguard', operation.context)
    c.header(requestIdHeader, operation.requestId)
    return operation.run(next).then(
      () => {
        try {
          if (retryAfter !== undefined) mapError(c)
          // A handler's own `Response` (a redirect, a proxied or hand-built error) never took the header set
          // above. Not a WebSocket upgrade's 101: Hono would rebuild it, which the runtimes refuse or which loses the socket.
          if (c.res.status !== 101 && !c.res.headers.has(requestIdHeader)) echoOnOwnResponse(c, requestIdHeader, operation.requestId)
          operation.settled()
          return holdUntilSent(c, operation)
        } catch (error) {
          // Whatever failed after the chain, the operation ends with it.
          operation.closed(true)
          throw error
        }
      },
      (error: unknown) => {
        operation.closed(true)
        throw error
      },
    )
  }

  return middleware
}

// A handler's own `Response` can have immutable headers (`Response.redirect()`, a `fetch()` answer): Hono before
// 4.7.7 sets a header on it in place (`TypeError: immutable`, answered 500), so a copy with the header goes out.
function echoOnOwnResponse(c: Context, name: string, value: string): void {
  const own = c.res
  const headers = new Headers(own.headers)
  headers.set(name, value)
  // Assigned over a response, `c.res` takes every header of it: cleared first.
  c.res = undefined
  c.res = new Response(own.body, { status: own.status, statusText: own.statusText, headers })
}
