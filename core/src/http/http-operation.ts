import { createCheckedContext, nameOperation, OperationContext, type OperationNamer } from '../operation-context.js'
import { isPrintableId, printableNameRule } from '../operation-options.js'
import { checkOption } from '../options.js'
import { disposedAtOnce } from '../service-container.js'
import type { HttpMiddlewareSettings } from './middleware-options.js'
import { requestIdFrom } from './request-id.js'

const SETTLED = 1
const CLOSED = 2
const DISPOSED = 4

/**
 * One HTTP request's operation, from the middleware's first line to the disposal of its scope, which
 * happens exactly once, when both the handler and the response are done:
 *
 * - the response was sent in full (`closed(true)`; for a streamed body, after its last chunk): the handler
 *   is done with it too, so the scope is disposed at once;
 * - the connection closed first (`closed(false)`, the client went away): the context aborts, and the scope
 *   waits until the handler chain has settled (the promise `run()` returned, or `settled()`).
 *
 * A disposal failure goes to the container's `onError`, never to the response. The adapter wires the
 * framework's events to `closed()` and `settled()` and names the operation when its router has matched.
 *
 * A name can be given as a function, called when something first reads `context.operation`: building the
 * default name (`METHOD route-pattern`) is string work on every request, and most are never asked it (events
 * and route-labelled metrics ask). The function must return a non-empty string. Adapters ask the user's
 * `operationName` in that function too, through the settings, which report its failures to `onError` (see
 * `httpMiddlewareSettings`): the route's parameters and pattern are known only once the router has matched
 * (Express, Koa) or the route's handler runs (Hono).
 *
 * After a disconnect the scope is disposed once the chain below has settled: `run()` follows the promise
 * `next()` returns (Koa, Hono). Where `next()` returns nothing (Express), call `settled()` when the handler
 * is done, or the scope of a request whose client left is never disposed.
 *
 * @example
 * const operation = new HttpOperation(settings, () => `${req.method} ${pathOf(req.url)}`, req.headers[settings.requestIdHeader])
 * res.setHeader(settings.requestIdHeader, operation.requestId)
 * onResponseClose(req, res, () => operation.closed(sentInFull(res)))
 * return operation.run(next) // next() returns the rest of the chain's promise
 */
export class HttpOperation {
  /** The request's context. */
  readonly context: OperationContext
  readonly #reportError: (error: unknown) => void
  #state = 0
  #downstream: PromiseLike<unknown> | undefined

  /**
   * Starts a request's operation: the caller's request id when sane (else a new one) and a context in a
   * scope of its own.
   *
   * @param operation - the name until the route is known, e.g. `GET /orders/42`, or a function that builds it
   * @param requestIdValue - the incoming request id header's value
   * @param signal - the runtime's own signal for the request, where it has one (fetch-style runtimes)
   */
  constructor(settings: HttpMiddlewareSettings<never>, operation: string | (() => string), requestIdValue: string | string[] | undefined | null, signal?: AbortSignal) {
    this.#reportError = settings.reportError
    // The settings were checked when the middleware was made; a name function is checked on the read that builds
    // it. A string that is no printable name goes through the full check, which says how it is wrong.
    const requestId = requestIdFrom(requestIdValue, settings.newRequestId)
    this.context =
      typeof operation === 'function' || isPrintableId(operation)
        ? createCheckedContext(settings.handlerName, operation as string | OperationNamer, settings.container, requestId, settings.deadlineMillis, signal)
        : OperationContext.create(settings.handlerName, operation, { container: settings.container, requestId, deadlineMillis: settings.deadlineMillis, signal })
  }

  /**
   * Names the operation again, once the router has matched: a string now (checked, as `setOperation`
   * does), a function when something first reads the name. A name the application set with `setOperation()`
   * stays: the route's is only the default.
   *
   * @throws {InvalidOptionError} for an empty or non-string name
   */
  rename(operation: string | (() => string)): void {
    if (typeof operation === 'string' && !isPrintableId(operation)) checkOption('OperationContext.setOperation', 'operation', operation, printableNameRule)
    nameOperation(this.context, operation)
  }

  /** The request id: the caller's, or the one generated for it. */
  get requestId(): string {
    return this.context.requestId as string
  }

  /**
   * Runs the rest of the chain in the context and returns what it returns. A promise is kept: after a
   * disconnect, the scope is disposed once it settles.
   */
  run<R>(next: () => R): R {
    const result = this.context.run(next)
    if (typeof (result as { then?: unknown } | undefined)?.then === 'function') this.#downstream = result as PromiseLike<unknown>
    return result
  }

  /** The handler chain below the middleware has settled (resolved or rejected), or ended the response. */
  settled(): void {
    this.#state |= SETTLED
    if ((this.#state & CLOSED) !== 0) this.#dispose()
  }

  /**
   * The response is done: sent in full (`finished`), or cut short by the connection closing first, which
   * aborts the context and leaves disposal to the end of the handler chain.
   */
  closed(finished: boolean): void {
    // The first word on the response stands (a queued response's connection may tell twice).
    if ((this.#state & CLOSED) !== 0) return
    if (finished) {
      this.#state |= SETTLED | CLOSED
      return this.#dispose()
    }
    this.#state |= CLOSED
    this.context.abort()
    if ((this.#state & SETTLED) !== 0) return this.#dispose()
    // Only now, after a disconnect, does the chain's end matter: no promise per request otherwise.
    this.#settleWithChain()
  }

  /**
   * The response was sent in full by a handler that may go on running (Koa's `ctx.respond = false`: the handler
   * ends the response itself, then may still use its services). Unlike `closed(true)`, disposal waits for the
   * handler chain to settle.
   */
  finishedByHandler(): void {
    if ((this.#state & CLOSED) !== 0) return
    this.#state |= CLOSED
    if ((this.#state & SETTLED) !== 0 || this.#downstream === undefined) return this.#dispose()
    this.#settleWithChain()
  }

  // `settled()` once the chain `run()` returned settles, if it returned a promise.
  #settleWithChain(): void {
    if (this.#downstream === undefined) return
    const settle = (): void => this.settled()
    this.#downstream.then(settle, settle)
  }

  #dispose(): void {
    if ((this.#state & DISPOSED) !== 0) return
    this.#state |= DISPOSED
    const disposal = this.context.dispose()
    if (disposal !== disposedAtOnce) disposal.then(undefined, this.#reportError)
  }
}
