import type { HttpMiddlewareOptions, MapErrorsOptions } from '@lifeguard/core/http'
import type { ParameterizedContext } from 'koa'

/** Options of `lifeguard()`. */
export interface LifeguardOptions extends HttpMiddlewareOptions<ParameterizedContext> {
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`GET /orders/:id` from `@koa/router`, or `METHOD path` when no route matched). Called when something reads
   * the name (the handler, pool events, route-labelled metrics), once for each router layer that runs: a name
   * given before the router matched is for now, and the function is asked again on the next read. Keep names
   * low-cardinality.
   */
  operationName?: ((ctx: ParameterizedContext) => string | undefined) | undefined
  /**
   * Answer pool pressure (`PoolExhaustedError`, `PoolTimeoutError`, a deadline that passed while the request
   * waited for a connection, also as an error's `cause`) with `503 Service Unavailable` and `Retry-After` instead
   * of passing the error to Koa. Default `false`.
   */
  mapErrors?: boolean | MapErrorsOptions | undefined
}
