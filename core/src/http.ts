/**
 * `@lifeguard/core/http`: the kit the HTTP adapters (Express, Koa, Hono) are built from, so that they
 * behave alike: the shared middleware options and their defaults, `HttpOperation` (one request's context,
 * disposed exactly once when both the handler and the response are done), request ids, operation names,
 * and the mapping of pool pressure to `503`. Applications do not need this entry.
 *
 * @packageDocumentation
 */

export { HttpOperation } from './http/http-operation.js'
export { httpMiddlewareSettings, httpMiddlewareRules } from './http/middleware-options.js'
export type { HttpMiddlewareOptions, HttpMiddlewareSettings } from './http/middleware-options.js'
export { requestIdFrom, requestIdGenerator } from './http/request-id.js'
export { echoHeaderOnWrite } from './http/echo-header.js'
export { onResponseClose, sentInFull, whileQueued } from './http/queued-response.js'
export { operationNameOf, pathOf } from './http/operation-name.js'
export { poolPressureCode, poolPressureBody, describesReplacedBody, mapErrorsRule, retryAfterFrom, retryAfterSecondsRule } from './http/pool-pressure.js'
export type { MapErrorsOptions } from './http/pool-pressure.js'
