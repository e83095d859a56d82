import { LifeguardError } from '@lifeguard/core'

/**
 * The driver cleared the pool after a network or server-state error: every connection of the old generation
 * is closed (idle ones at once, busy ones when they come back) and new checkouts fail until the next
 * heartbeat finds the server again. Reported through `onError` (source `pool`); the cause is the server
 * error that triggered it, redacted.
 *
 * @example
 * createMongoPool({ name: 'orders', uri, events: { onError: (e) => e.error.name === 'PoolClearedError' && alert(e) } })
 */
export class PoolClearedError extends LifeguardError {
  override readonly name = 'PoolClearedError'
  readonly pool: string

  constructor(pool: string, options?: { cause?: unknown }) {
    super(
      'ERR_POOL_CLEARED',
      `Could not keep the connections of pool '${pool}'. The driver cleared the pool after a network or server error; it reconnects after the next successful heartbeat.`,
      options,
    )
    this.pool = pool
  }
}
