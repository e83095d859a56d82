import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'

// The histogram's timer fires every RESOLUTION ms; what it records beyond that is delay.
const RESOLUTION_MILLIS = 10

/**
 * How late this process runs work that is ready: the mean event-loop delay since the last reading.
 * A checkout's use time includes that delay (the reply waits in the socket until the loop reads it), so
 * a policy subtracts it to see the database's share. One libuv timer every 10 ms while running.
 */
export class LoopDelay {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MILLIS })

  constructor() {
    this.#histogram.enable()
  }

  /** Mean delay (ms) since the last call; 0 when the loop kept up. */
  read(): number {
    const histogram = this.#histogram
    const mean = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MILLIS : 0
    histogram.reset()
    return Number.isFinite(mean) ? Math.max(0, mean) : 0
  }

  stop(): void {
    this.#histogram.disable()
  }
}
