import { performance } from 'node:perf_hooks'
import type { MongoClient } from 'mongodb'
import type { CmapTracker } from './cmap-tracker.js'

/** The outcome of one warm-up run, before the pool turns it into a report or an error. */
export interface WarmupOutcome {
  opened: number
  durationMillis: number
  timedOut: boolean
  /** Why the last round failed (a ping's or the driver's connect error). */
  lastError: unknown
}

/** Sends one `ping` on a pool connection, outside admission. */
export function ping(client: MongoClient): Promise<unknown> {
  return client.db('admin').command({ ping: 1 })
}

/**
 * Brings the driver's pool to `requested` ready connections with `pingOnce` (a `ping` outside admission). Concurrent pings make the driver open
 * connections, but it opens at most `maxConnecting` (default 2) at a time and hands a freed connection to the
 * next waiting ping, so one round may open fewer: rounds repeat until the CMAP count reaches `requested`.
 * Stops early when a whole round fails (the server is unreachable) or at the deadline.
 */
export async function warmConnections(pingOnce: () => Promise<unknown>, tracker: CmapTracker, requested: number, timeoutMillis: number): Promise<WarmupOutcome> {
  const started = performance.now()
  const deadline = started + timeoutMillis
  let lastError: unknown
  let timedOut = false
  while (tracker.open < requested) {
    const remaining = deadline - performance.now()
    if (remaining <= 0) {
      timedOut = true
      break
    }
    const round = Promise.allSettled(Array.from({ length: requested }, pingOnce))
    const results = await withDeadline(round, remaining)
    if (results === undefined) {
      timedOut = true
      break
    }
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    // After a failed first connection the driver closes the client, and the round's other pings fail only
    // with "Topology is closed": keep the one that says why.
    if (failures.length > 0) lastError = failures.find((failure) => (failure as Error | undefined)?.name !== 'MongoTopologyClosedError') ?? failures[0]
    if (failures.length === results.length) break
  }
  return { opened: Math.min(requested, tracker.open), durationMillis: performance.now() - started, timedOut, lastError: lastError ?? tracker.lastConnectError }
}

// Resolves with the value, or `undefined` at the deadline; the pending work is left to settle on its own.
function withDeadline<T>(work: Promise<T>, millis: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), millis)
    work.then((value) => {
      clearTimeout(timer)
      resolve(value)
    })
  })
}
