import type { HttpMiddlewareOptions, MapErrorsOptions } from '@lifeguard/core/http'
import type { Context } from 'hono'

/** Options of `lifeguard()`. */
export interface LifeguardOptions extends HttpMiddlewareOptions<Context> {
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`GET /orders/:id` from Hono's router, or `METHOD path` when no route matched). Asked when the name is first
   * read: once the route's handler runs, `c.req.routePath` and `c.req.param()` are the route's (a read before that
   * gets a name for now, asked again later). Keep names low-cardinality.
   */
  operationName?: ((c: Context) => string | undefined) | undefined
  /**
   * Answer pool pressure (`PoolExhaustedError`, `PoolTimeoutError`, a deadline that passed while the request
   * waited for a connection, also as an error's `cause`) with `503 Service Unavailable` and `Retry-After`, in
   * place of the response `onError` made. Default `false`.
   */
  mapErrors?: boolean | MapErrorsOptions | undefined
}
