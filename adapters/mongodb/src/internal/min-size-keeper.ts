import type { CmapTracker } from './cmap-tracker.js'

/**
 * Keeps `minSize` connections open, since the driver's own minimum is fixed at construction. Runs after a
 * resize, when the pool becomes ready (again), and when a connection goes away; one run at a time.
 */
export class MinSizeKeeper {
  readonly #tracker: CmapTracker
  readonly #ping: () => Promise<unknown>
  readonly #minSize: () => number
  readonly #paused: () => boolean
  #running: Promise<void> | undefined

  /**
   * @param ping - a ping outside admission
   * @param paused - true while nothing should be opened (the pool warms up or closes)
   */
  constructor(tracker: CmapTracker, ping: () => Promise<unknown>, minSize: () => number, paused: () => boolean) {
    this.#tracker = tracker
    this.#ping = ping
    this.#minSize = minSize
    this.#paused = paused
  }

  /** Resolves when the run in progress, if any, is over. */
  get settled(): Promise<void> | undefined {
    return this.#running
  }

  /** Opens the missing connections, unless a run is in progress or the pool is paused. */
  maintain(): void {
    if (this.#running !== undefined || this.#paused()) return
    const minSize = this.#minSize()
    if (minSize - this.#tracker.total <= 0) return
    const before = this.#tracker.open
    // Concurrent pings beside the connections in use make the driver open the missing ones.
    const count = Math.max(1, minSize - this.#tracker.busy)
    this.#running = Promise.allSettled(Array.from({ length: count }, () => this.#ping())).then(() => {
      this.#running = undefined
      // Go on while it makes progress; a failing server is retried when the pool becomes ready again.
      if (this.#tracker.open > before) this.maintain()
    })
  }
}
