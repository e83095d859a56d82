import { InvalidOptionError } from '@lifeguard/core'
import { validateOptions, type OptionRule } from '@lifeguard/core/adapter'
import { retryAfterSecondsRule, type HttpMiddlewareOptions } from '@lifeguard/core/http'
import type { Request } from 'express'

/** Options of `lifeguard()`. */
export interface LifeguardOptions extends HttpMiddlewareOptions<Request> {
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`GET /orders/:id`, or `METHOD path` when no route matched). Called when something reads the name (the
   * handler, pool events, route-labelled metrics), once for each route that runs, and when the response has
   * finished, for the route that answered: a name given before routing is for now, and the function is asked
   * again on the next read. Keep names low-cardinality.
   */
  operationName?: ((req: Request) => string | undefined) | undefined
  /**
   * After the client went away, how long to wait for the handler to end the response before the scope
   * is disposed anyway (Express does not give middleware the handler's promise). Default 1000.
   */
  abortGraceMillis?: number | undefined
}

/** Options of `poolErrorHandler()`. */
export interface PoolErrorHandlerOptions {
  /** The `Retry-After` header of the 503, in seconds. Default 1. */
  retryAfterSeconds?: number | undefined
}

/** @internal the rules of the options only Express takes */
export const expressRules: Readonly<Record<string, OptionRule>> = { abortGraceMillis: { type: 'duration', optional: true } }

/** @internal Express maps errors in an error handler: say so instead of "unknown option". */
export function rejectMapErrors(options: LifeguardOptions): void {
  if (typeof options === 'object' && options !== null && Object.hasOwn(options, 'mapErrors')) {
    throw new InvalidOptionError(
      'mapErrors',
      'a known option',
      'Invalid options for lifeguard: Express error mapping is a separate error handler. Add `app.use(poolErrorHandler())` after your routes.',
    )
  }
}

/** @internal */
export function retryAfterSecondsFrom(options: PoolErrorHandlerOptions | undefined): string {
  validateOptions('poolErrorHandler', options, { retryAfterSeconds: retryAfterSecondsRule })
  return String(options?.retryAfterSeconds ?? 1)
}
