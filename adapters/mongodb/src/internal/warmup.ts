import type { Clock } from '@lifeguard/core'
import type { MongoClient } from 'mongodb'
import type { CmapTracker } from './cmap-tracker.js'

/** The outcome of one warm-up run, before the pool turns it into a report or an error. */
export interface WarmupOutcome {
  opened: number
  durationMillis: number
  timedOut: boolean
  /** No ping answered, though connections were counted open: they went silent (a partition, a stalled server). */
  silent: boolean
  /** Why the last round failed (a ping's or the driver's connect error). */
  lastError: unknown
}

/** Sends one `ping` on a pool connection, outside admission. */
export function ping(client: MongoClient): Promise<unknown> {
  return client.db('admin').command({ ping: 1 })
}

/** What one warm-up run works with. */
export interface WarmupRun {
  /** A `ping` outside admission. */
  ping: () => Promise<unknown>
  tracker: CmapTracker
  requested: number
  timeoutMillis: number
  /** The pool's clock: the deadline runs on it. */
  clock: Clock
  /** A refill still running (see below). */
  refilling?: Promise<void> | undefined
}

/**
 * Brings the driver's pool to `requested` ready connections with `ping`. Concurrent pings make the driver open
 * connections, but it opens at most `maxConnecting` (default 2) at a time and hands a freed connection to the
 * next waiting ping, so one round may open fewer: rounds repeat until the CMAP count reaches `requested`. The
 * first round runs even when that many are open already, so the connections reported were used just now.
 * Stops early when a whole round fails (the server is unreachable) or at the deadline. A refill already
 * running would still hold connections when the report says they are idle: it is waited for first, within
 * the same deadline (its pings wait out the driver's server selection, 30 s by default).
 */
export async function warmConnections({ ping: pingOnce, tracker, requested, timeoutMillis, clock, refilling }: WarmupRun): Promise<WarmupOutcome> {
  const started = clock.now()
  const deadline = started + timeoutMillis
  let lastError: unknown
  let timedOut = refilling !== undefined && (await withDeadline(refilling.then(() => true), timeoutMillis, clock)) === undefined
  // Pings answered: with none, no connection was shown to serve, whatever the count says.
  let answered = 0
  const countedPing = (): Promise<unknown> => pingOnce().then((reply) => (answered++, reply))
  // At least one round, also when the count says enough are open: an idle connection the network dropped without
  // a word (a partition, a NAT's timeout) still counts as open until a ping finds it out, and a warm-up checks
  // the connections it reports (as a PostgreSQL pool's validates its idle ones).
  for (let round = 0; !timedOut && (round === 0 || tracker.open < requested); round++) {
    const remaining = deadline - clock.now()
    if (remaining <= 0) {
      timedOut = true
      break
    }
    const round = Promise.allSettled(Array.from({ length: requested }, countedPing))
    const results = await withDeadline(round, remaining, clock)
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
  const opened = answered === 0 ? 0 : Math.min(requested, tracker.open)
  return { opened, silent: answered === 0 && tracker.open > 0, durationMillis: clock.now() - started, timedOut, lastError: lastError ?? tracker.lastConnectError }
}

// Settles as the work does, or with `undefined` at the deadline; the pending work is left to settle on its own.
function withDeadline<T>(work: Promise<T>, millis: number, clock: Clock): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const timer = clock.setTimeout(() => resolve(undefined), millis)
    work.then(
      (value) => {
        clock.clearTimeout(timer)
        resolve(value)
      },
      (error: unknown) => {
        clock.clearTimeout(timer)
        reject(error)
      },
    )
  })
}
