import type { Clock, ClockTimer } from '@lifeguard/core'
import { outsideOperations } from '@lifeguard/core/adapter'
import type { ConnectionCounts } from './cmap-tracker.js'

// Retries of a run that opened nothing wait 50ms, 100ms, ... up to 1s: a server refusing new connections
// while its monitor stays up (at its connection limit, credentials rotated) would otherwise be asked for
// thousands of connections a second, each one an error event.
const firstRetryMillis = 50
const maxRetryMillis = 1000

/**
 * Keeps `minSize` connections open, since the driver's own minimum is fixed at construction. Runs after a
 * resize, when the pool becomes ready (again), and when a connection goes away; one run at a time, and
 * after a run that opened nothing, not again before its backoff delay.
 */
export class MinSizeKeeper {
  readonly #counts: () => ConnectionCounts
  readonly #ping: () => Promise<unknown>
  readonly #minSize: () => number
  readonly #paused: () => boolean
  readonly #clock: Clock
  #running: Promise<void> | undefined
  #retry: ClockTimer | undefined
  #failures = 0
  // A one-ping probe after failed runs found the server answering: the next run asks for every missing connection.
  #answering = false
  // The pool closed: a run still in flight arms no retry when it ends.
  #stopped = false

  /**
   * @param counts - the connections that count toward `minSize` (those of servers that serve)
   * @param ping - a ping outside admission
   * @param paused - true while nothing should be opened (the pool warms up or closes, no server's pool is ready)
   * @param clock - where the backoff's timers are set
   */
  constructor(counts: () => ConnectionCounts, ping: () => Promise<unknown>, minSize: () => number, paused: () => boolean, clock: Clock) {
    this.#counts = counts
    this.#ping = ping
    this.#minSize = minSize
    this.#paused = paused
    this.#clock = clock
  }

  /** Resolves when the run in progress, if any, is over. */
  get settled(): Promise<void> | undefined {
    return this.#running
  }

  /**
   * Opens the missing connections, unless a run is in progress or due, or the pool is paused. Outside any
   * operation: it is asked from driver events, which fire in whichever request's I/O the driver was serving.
   */
  maintain(): void {
    outsideOperations(() => this.#maintain())
  }

  #maintain(): void {
    if (this.#running !== undefined || this.#retry !== undefined || this.#paused()) return
    const minSize = this.#minSize()
    const counts = this.#counts()
    if (minSize - counts.total <= 0) {
      this.#failures = 0
      return
    }
    const before = counts.open
    // Concurrent pings beside the connections in use make the driver open the missing ones: a ping takes an
    // idle connection first, else one being opened. Checkouts already waiting inside the driver (a retried
    // read after a pool clear) take their share first, so they are asked for too: counted out, the refill
    // opened one connection too many. After a failed run, one ping finds out whether the server answers again.
    const probing = this.#failures > 0 && !this.#answering
    // Once a probe was answered, one connection more than are idle: a server that answers but refuses new
    // connections (at its limit) is asked for one a retry, not for every one missing.
    const idle = counts.open - counts.busy
    const count = probing ? 1 : this.#answering ? idle + 1 : Math.max(1, minSize - counts.busy - counts.waiting)
    this.#running = Promise.allSettled(Array.from({ length: count }, () => this.#ping())).then((results) => {
      this.#running = undefined
      // Go on at once while it makes progress; else try again later, each time later.
      if (this.#counts().open > before) {
        this.#failures = 0
        this.#answering = false
        this.maintain()
        return
      }
      // The probe was answered (on a connection that outlived the outage, say): ask for a new connection now.
      // Backoff goes on counting, so a server that answers but refuses new connections is not asked in a loop.
      if (probing && results.some((result) => result.status === 'fulfilled')) {
        this.#answering = true
        this.maintain()
        return
      }
      this.#answering = false
      if (this.#stopped) return
      const delay = Math.min(maxRetryMillis, firstRetryMillis * 2 ** this.#failures)
      this.#failures++
      this.#retry = this.#clock.setTimeout(
        () => {
          this.#retry = undefined
          this.maintain()
        },
        delay,
        true,
      )
    })
  }

  /** Cancels a pending retry, and any a run still in flight would arm (the pool closes). */
  stop(): void {
    this.#stopped = true
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry)
    this.#retry = undefined
  }
}
