// What a failed connection attempt means for the callers waiting: one of them fails, or the pool retries.
import type { ConnectionOpener } from './connection-opener.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { GracefulClose } from './graceful-close.js'
import type { PoolLifecycle } from './pool-lifecycle.js'
import type { Waiter, WaitQueue } from './wait-queue.js'
import type { WaiterDispatch } from './waiter-dispatch.js'

/** The parts of its pool a failed attempt concerns. */
export interface FailureParts<C> {
  readonly lifecycle: PoolLifecycle
  readonly queue: WaitQueue<C>
  readonly opener: ConnectionOpener<C>
  /** Its validations for waiters cover waiters, as attempts do. */
  readonly dispatch: WaiterDispatch<C>
  /** Answers a failure while the pool is closing. */
  readonly closer: GracefulClose<C>
  /** True while checkouts are held (`suspend()`). */
  suspended(): boolean
  /** Opens connections for the waiters not covered, and for `minSize` unless `waitersOnly`. */
  fill(waitersOnly: boolean): void
}

/**
 * How a `PoolEngine` answers a failed connection attempt: while closing, its close does; while suspended,
 * nothing does (the attempt was a warm-up's, or started before the suspend: the callers held keep waiting,
 * within their own timeouts, and `resume()` opens for them); a permanent error
 * fails the oldest waiter no other attempt covers and opens attempts for the others; any other error is
 * retried after the backoff (with `retryCreate` off, that waiter gets it first).
 */
export function attemptFailureHandler<C>(options: PoolEngineOptions<C>, parts: FailureParts<C>): (error: Error) => void {
  const { lifecycle, queue, opener, dispatch, closer } = parts
  return (error) => {
    if (lifecycle.closing) return closer.attemptFailed(error)
    // A switchover's warm-up that meets the new server still refusing must fail none of the callers held.
    if (parts.suspended()) return
    const permanent = options.factory.permanentError?.(error)
    if (permanent !== undefined || !options.retryCreate) {
      // The oldest waiter not covered by another attempt was counting on this one: it has no chance left.
      if (queue.length > opener.creating + dispatch.validatingForWaiters) {
        const waiter = queue.shift() as Waiter<C>
        waiter.grant(permanent ?? error, undefined)
      }
      if (permanent !== undefined) {
        // Each waiter left gets an attempt of its own, as this one's waiter had: it fails as fast, or is
        // served once the cause is gone (the database created, the password rotated). Before, with no
        // attempt left for them, they sat out their acquire timeout. Not for minSize: an error that waiting
        // will not fix is not retried for it.
        parts.fill(true)
        return
      }
    }
    opener.scheduleRetry()
  }
}
