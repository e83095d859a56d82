/**
 * `@lifeguard/hono`: Hono 4 middleware that gives every request its own service scope and
 * `OperationContext`, and gives back everything the request took, however the request ends.
 *
 * @packageDocumentation
 */

export { lifeguard } from './lifeguard.js'
export type { LifeguardEnv, LifeguardVariables } from './lifeguard.js'
export type { LifeguardOptions } from './options.js'
export type { MapErrorsOptions } from '@lifeguard/core/http'
