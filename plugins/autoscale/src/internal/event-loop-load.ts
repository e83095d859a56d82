import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks'

// The histogram's timer fires every RESOLUTION ms; what it records beyond that is delay.
const RESOLUTION_MILLIS = 10

/** How busy this process's event loop was since the last reading. */
export interface LoopReading {
  /** Mean event-loop delay (ms); 0 when the loop kept up. */
  delayMillis: number
  /** Share of the time the loop was busy rather than waiting for I/O, 0 to 1. */
  utilization: number
}

/**
 * How late this process runs work that is ready, and how much of the time it had work to run. A
 * checkout's use time includes the delay (the reply waits in the socket until the loop reads it), so a
 * policy subtracts it to see the database's share; the utilization tells a reader of its decisions
 * whether this process had time to spare. One libuv timer every 10 ms while running; the utilization
 * is read from counters Node keeps anyway.
 */
export class EventLoopLoad {
  readonly #histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: RESOLUTION_MILLIS })
  #utilization: EventLoopUtilization = performance.eventLoopUtilization()

  constructor() {
    this.#histogram.enable()
  }

  /** The delay and the utilization since the last call. */
  read(): LoopReading {
    const histogram = this.#histogram
    const mean = histogram.count > 0 ? histogram.mean / 1e6 - RESOLUTION_MILLIS : 0
    histogram.reset()
    const now = performance.eventLoopUtilization()
    const { utilization } = performance.eventLoopUtilization(now, this.#utilization)
    this.#utilization = now
    return { delayMillis: Number.isFinite(mean) ? Math.max(0, mean) : 0, utilization: Number.isFinite(utilization) ? utilization : 0 }
  }

  stop(): void {
    this.#histogram.disable()
  }
}
