import type { ErrorRequestHandler } from 'express'
import { describesReplacedBody, poolPressureBody, poolPressureCode } from '@lifeguard/core/http'
import { retryAfterSecondsFrom, type PoolErrorHandlerOptions } from './options.js'

/**
 * Express error middleware that answers pool pressure (`PoolExhaustedError`, `PoolTimeoutError`, a deadline
 * that passed while the request waited for a connection, also as the `cause` of another error) with `503 Service Unavailable` and `Retry-After`, and passes every other
 * error on. Add it after your routes, before your own error handlers. The body names the error code only.
 * Headers the handler set for its own body (`Content-*`, `ETag`, `Cache-Control`, ...) are dropped; others stay.
 *
 * @throws {InvalidOptionError} for a bad option
 * @example
 * app.use(lifeguard({ container }))
 * app.get('/orders', listOrders)
 * app.use(poolErrorHandler({ retryAfterSeconds: 2 }))
 */
export function poolErrorHandler(options?: PoolErrorHandlerOptions): ErrorRequestHandler {
  const retryAfter = retryAfterSecondsFrom(options)
  return function lifeguardPoolErrors(error, _req, res, next) {
    const code = poolPressureCode(error)
    if (code === undefined || res.headersSent) return next(error)
    // What the handler set for the body it was producing does not describe this one (CORS, cookies stay).
    for (const name of res.getHeaderNames()) if (describesReplacedBody(name)) res.removeHeader(name)
    res.status(503).set('Retry-After', retryAfter).json(poolPressureBody(code))
  }
}
