import { performance } from 'node:perf_hooks'
import type pg from 'pg'
import type { TrackedClient } from './tracked-client.js'

/** How `connectWithin` reports back to the pool. */
export interface ConnectWithinOptions {
  readonly pgPool: pg.Pool
  /** `performance.now()` by which a client must be in hand. */
  readonly deadline: number
  readonly signal: AbortSignal | undefined
  /**
   * Records a failed attempt; returns the error to reject with at once, or undefined to retry (with
   * backoff) until the deadline.
   */
  failed(error: unknown): Error | undefined
  /** The error for a caller whose deadline passed (the pool attaches the last connect error). */
  timedOut(): Error
  aborted(reason: unknown): Error
}

const firstBackoffMillis = 25
const maxBackoffMillis = 1000

/**
 * Gets a client from pg-pool when it may have to open a connection: bounded by a deadline, retrying
 * failed attempts with exponential backoff, and leaving when the signal aborts. A client that
 * arrives after the caller gave up goes back to the pool idle, so it is never leaked.
 */
export function connectWithin(options: ConnectWithinOptions): Promise<TrackedClient> {
  const { pgPool, signal } = options
  return new Promise<TrackedClient>((resolve, reject) => {
    let settled = false
    let attempts = 0
    let retryTimer: NodeJS.Timeout | undefined
    const finish = (error: Error | undefined, client?: TrackedClient) => {
      settled = true
      clearTimeout(deadlineTimer)
      if (retryTimer !== undefined) clearTimeout(retryTimer)
      signal?.removeEventListener('abort', onAbort)
      if (error === undefined) resolve(client as TrackedClient)
      else reject(error)
    }
    const onAbort = () => {
      if (!settled) finish(options.aborted(signal?.reason))
    }
    const deadlineTimer = setTimeout(() => {
      if (!settled) finish(options.timedOut())
    }, Math.max(0, options.deadline - performance.now()))

    const attempt = () => {
      retryTimer = undefined
      pgPool.connect((error, client) => {
        if (error !== undefined && error !== null) {
          const fatal = options.failed(error)
          if (settled) return
          if (fatal !== undefined) return finish(fatal)
          const delay = Math.min(firstBackoffMillis * 2 ** attempts++, maxBackoffMillis)
          // Past the deadline the timer above answers, with this failure as the cause.
          if (performance.now() + delay < options.deadline) retryTimer = setTimeout(attempt, delay)
          return
        }
        const tracked = client as unknown as TrackedClient
        if (settled) tracked.release()
        else finish(undefined, tracked)
      })
    }

    if (signal?.aborted) return finish(options.aborted(signal.reason))
    signal?.addEventListener('abort', onAbort, { once: true })
    attempt()
  })
}
