import { LifeguardError } from '@lifeguard/core'

/**
 * The driver cleared the pool after a network or server-state error: every connection of the old generation
 * is closed (idle ones at once, busy ones when they come back) and new checkouts fail until the next
 * heartbeat finds the server again. Reported through `onError` (source `pool`); the cause is the server
 * error that triggered it, redacted.
 *
 * @example
 * createMongoPool({ name: 'orders', uri, events: { onError: (e) => { if (e.error.name === 'PoolClearedError') alert(e) } } })
 */
export class PoolClearedError extends LifeguardError {
  /** Always `'PoolClearedError'`. */
  override readonly name = 'PoolClearedError'
  /** Always `'ERR_POOL_CLEARED'`. */
  declare readonly code: 'ERR_POOL_CLEARED'
  /** The pool's name. */
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

/**
 * The driver closed the pool's client on its own: its first connection (or a warm-up) failed, and the driver
 * then refuses every later operation (`Topology is closed`). Reported through `onError` (source `pool`), with
 * the connect error as cause, redacted. The pool reconnects the same client on its next operation, warm-up
 * or read of `pool.client`, so a service that starts before its database comes up when the database does.
 *
 * @example
 * createMongoPool({ name: 'orders', uri, events: { onError: (e) => { if (e.error.name === 'ClientClosedError') log.warn(e.error.message) } } })
 */
export class ClientClosedError extends LifeguardError {
  /** Always `'ClientClosedError'`. */
  override readonly name = 'ClientClosedError'
  /** Always `'ERR_CLIENT_CLOSED'`. */
  declare readonly code: 'ERR_CLIENT_CLOSED'
  /** The pool's name. */
  readonly pool: string

  constructor(pool: string, options?: { cause?: unknown }) {
    super(
      'ERR_CLIENT_CLOSED',
      `Could not keep the client of pool '${pool}' open. The driver closed it after a failed connection; the pool reconnects it on the next operation.`,
      options,
    )
    this.pool = pool
  }
}
