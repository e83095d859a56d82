// The wait queue's hooks of a pool: the error a waiter gets when its acquire times out or its operation aborts.
import { OperationAbortedError, PoolTimeoutError } from '../errors.js'
import type { OperationContext } from '../operation-context.js'
import type { PoolMonitor } from '../pool-monitor.js'
import type { ConnectionOpener } from './connection-opener.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { WaitQueueHooks } from './wait-queue.js'

/**
 * The hooks of a `PoolEngine`'s wait queue: a waiter whose deadline passed gets `acquireTimedOut`'s error, one
 * whose operation aborted an `OperationAbortedError` (counted as abandoned); each error passes through `left`.
 *
 * @param pool - the engine, for the callers waiting (the one leaving included)
 * @param left - a waiter left with this error: the pool's close may have been waiting for it
 */
export function waitQueueHooks<C>(options: PoolEngineOptions<C>, pool: { readonly waitingCount: number }, opener: ConnectionOpener<C>, left: (error: Error) => Error): WaitQueueHooks<C> {
  const { name, monitor } = options
  const clock = monitor.clock
  return {
    clock,
    timedOut: (waiter) => {
      const now = clock.now()
      const timing = { waitMillis: now - waiter.askedAt, waiting: pool.waitingCount - 1, context: waiter.context }
      return left(acquireTimedOut(name, options.acquireTimeoutMillis, timing, opener, monitor, now))
    },
    aborted: (_waiter, reason) => {
      monitor.abandoned()
      return left(new OperationAbortedError(`acquire a connection from pool '${name}'`, { cause: reason, queued: true }))
    },
  }
}

/**
 * The `PoolTimeoutError` of a waiter that waited `waitMillis` (reported to the monitor first). Its cause is
 * the last connect error, else the connection attempt still in flight, if any.
 *
 * @param waiting - the callers still waiting behind it
 */
function acquireTimedOut(
  name: string,
  acquireTimeoutMillis: number,
  { waitMillis, waiting, context }: { waitMillis: number; waiting: number; context: OperationContext | undefined },
  opener: ConnectionOpener<unknown>,
  monitor: PoolMonitor,
  now: number,
): PoolTimeoutError {
  const cause = opener.lastError ?? attemptPending(opener, now)
  monitor.timedOutIn(waitMillis, waiting, cause, context)
  const connecting = opener.creating
  return new PoolTimeoutError(name, acquireTimeoutMillis, cause === undefined ? { waiting, connecting } : { cause, waiting, connecting })
}

// With no failure yet, a connection attempt still in flight is what the waiter waited for: against a server
// that accepts and never answers, the waiter's timer fires before the attempt's own timeout (with the
// defaults, both are the same length). Without this the timeout had no cause at all, as if the pool were
// merely busy. It carries no connection details, so nothing in it needs redacting.
function attemptPending(opener: ConnectionOpener<unknown>, now: number): Error | undefined {
  const startedAt = opener.oldestAttemptStartedAt
  if (startedAt === undefined) return undefined
  return new Error(`A connection attempt to the server has not completed within ${Math.round(now - startedAt)}ms; ${opener.creating} connection attempt(s) still pending.`)
}
