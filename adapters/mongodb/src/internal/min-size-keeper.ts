import type { Clock, ClockTimer } from '@lifeguard/core'
import type { CmapTracker } from './cmap-tracker.js'

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
  readonly #tracker: CmapTracker
  readonly #ping: () => Promise<unknown>
  readonly #minSize: () => number
  readonly #paused: () => boolean
  readonly #clock: Clock
  #running: Promise<void> | undefined
  #retry: ClockTimer | undefined
  #failures = 0

  /**
   * @param ping - a ping outside admission
   * @param paused - true while nothing should be opened (the pool warms up or closes)
   * @param clock - where the backoff's timers are set
   */
  constructor(tracker: CmapTracker, ping: () => Promise<unknown>, minSize: () => number, paused: () => boolean, clock: Clock) {
    this.#tracker = tracker
    this.#ping = ping
    this.#minSize = minSize
    this.#paused = paused
    this.#clock = clock
  }

  /** Resolves when the run in progress, if any, is over. */
  get settled(): Promise<void> | undefined {
    return this.#running
  }

  /** Opens the missing connections, unless a run is in progress or due, or the pool is paused. */
  maintain(): void {
    if (this.#running !== undefined || this.#retry !== undefined || this.#paused()) return
    const minSize = this.#minSize()
    if (minSize - this.#tracker.total <= 0) {
      this.#failures = 0
      return
    }
    const before = this.#tracker.open
    // Concurrent pings beside the connections in use make the driver open the missing ones; after a failed
    // run, one ping finds out whether the server takes connections again.
    const count = this.#failures > 0 ? 1 : Math.max(1, minSize - this.#tracker.busy)
    this.#running = Promise.allSettled(Array.from({ length: count }, () => this.#ping())).then(() => {
      this.#running = undefined
      // Go on at once while it makes progress; else try again later, each time later.
      if (this.#tracker.open > before) {
        this.#failures = 0
        this.maintain()
        return
      }
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

  /** Cancels a pending retry (the pool closes). */
  stop(): void {
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry)
    this.#retry = undefined
  }
}
