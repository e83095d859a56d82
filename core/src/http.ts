/**
 * `@lifeguard/core/http`: framework-agnostic pieces shared by the HTTP adapters (Express, Koa, Hono):
 * request ids, the mapping of pool pressure to `503`, and the middleware option rules.
 * Applications do not need this entry.
 *
 * @packageDocumentation
 */

export { requestIdFrom, poolPressureCode, poolPressureBody, middlewareOptionRules, mapErrorsRule, retryAfterFrom } from './http-support.js'
