import type { DisconnectReason } from '../pool-events.js'
import type { Checkout } from '../pool-monitor.js'

/** Where a pooled connection is in its life. */
export type ConnectionState = 'creating' | 'validating' | 'idle' | 'busy' | 'parked' | 'closed'

/**
 * One connection of a `PoolEngine`, for its whole life: the engine hands this record out on every
 * checkout (no allocation per checkout) and takes it back in `release()`.
 */
export class PooledConnection<C> {
  /** The driver's connection (set once `create` resolved). */
  connection!: C
  /** The driver's id for it, for events. */
  id: string | number | undefined
  /** Where it is in its life; `creating` until the driver's `create` resolves. */
  state: ConnectionState = 'creating'
  /** `clock.now()` when it opened. */
  openedAt = 0
  /** `clock.now()` after which it is retired (Infinity: never). */
  expiresAt = Infinity
  /** `clock.now()` when it last went idle (or was parked). */
  idleSince = 0
  /** While parked (above `maxSize` after a shrink): `clock.now()` when it closes unless taken back. */
  parkedUntil = 0
  /** Checkouts so far. */
  uses = 0
  /** Set once the driver reported it failed. */
  broken: Error | undefined
  /** The current checkout's bookkeeping, while busy. */
  checkout: Checkout | undefined
  /** Why it is being closed, when the reason is known before the driver says so. */
  retireReason: DisconnectReason | undefined
  /** True when it was taken back from its holder (by `close()`, or by the adapter when its operation ended): a late release is then ignored. */
  revoked = false
  /** True once `softEvict()` marked it: closed when it comes back instead of going idle. */
  evicted = false
  /** The pool's eviction generation when it started opening (a `softEvict()` since then evicts it). */
  generation = 0
}
