/**
 * `@lifeguard/autoscale/mongodb`: the seed's `client.setDynamicPoolConfig(config)` on every
 * `MongoPool`, typed. Importing it changes nothing at run time; calling `install()` once does. Its types add the
 * methods on import (TypeScript cannot tell when `install()` ran): call it at startup, before any pool is used.
 *
 * @example
 * import { install } from '@lifeguard/autoscale/mongodb'
 * install()
 * createMongoPool({ name: 'orders', uri }).setDynamicPoolConfig(dynamicConfig)
 *
 * @packageDocumentation
 */
import type { AttachOptions } from './pool-autoscaler.js'
import { MongoPool } from '@lifeguard/mongodb'
import { installDynamicSizing, type DynamicSizing } from './dynamic-sizing.js'

export type { AttachOptions }

declare module '@lifeguard/mongodb' {
  /** With `install()` from `@lifeguard/autoscale/mongodb`: the seed's per-pool sizing methods. */
  interface MongoPool extends DynamicSizing {}
}

/**
 * Gives every `MongoPool` (created before or after) `setDynamicPoolConfig(config)`,
 * `getDynamicPoolConfig()` and `dynamicSizing`. Idempotent.
 *
 * @param options - for every pool: clock, `onError`, timers
 * @throws {InvalidOptionError} for bad options
 */
export function install(options?: AttachOptions): void {
  installDynamicSizing(MongoPool, options)
}
