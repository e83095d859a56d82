/**
 * `@lifeguard/autoscale/postgres`: the seed's `client.setDynamicPoolConfig(config)` on every
 * `PostgresPool`, typed. Importing it changes nothing at run time; calling `install()` once does. Its types add the
 * methods on import (TypeScript cannot tell when `install()` ran): call it at startup, before any pool is used.
 *
 * @example
 * import { install } from '@lifeguard/autoscale/postgres'
 * install()
 * createPostgresPool({ name: 'orders', connectionString }).setDynamicPoolConfig(dynamicConfig)
 *
 * @packageDocumentation
 */
import type { AttachOptions } from './pool-autoscaler.js'
import { PostgresPool } from '@lifeguard/postgres'
import { installDynamicSizing, type DynamicSizing } from './dynamic-sizing.js'

export type { AttachOptions }

declare module '@lifeguard/postgres' {
  /** With `install()` from `@lifeguard/autoscale/postgres`: the seed's per-pool sizing methods. */
  interface PostgresPool extends DynamicSizing {}
}

/**
 * Gives every `PostgresPool` (created before or after) `setDynamicPoolConfig(config)`,
 * `getDynamicPoolConfig()` and `dynamicSizing`. Idempotent.
 *
 * @param options - for every pool: clock, `onError`, timers
 * @throws {InvalidOptionError} for bad options
 */
export function install(options?: AttachOptions): void {
  installDynamicSizing(PostgresPool, options)
}
