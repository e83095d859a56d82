/**
 * `@lifeguard/express`: Express 5 middleware that gives every request its own service scope and
 * `OperationContext`, and gives back everything the request took, however the request ends.
 *
 * @packageDocumentation
 */

export { lifeguard } from './lifeguard.js'
export { poolErrorHandler } from './pool-error-handler.js'
export type { LifeguardOptions, PoolErrorHandlerOptions } from './options.js'
