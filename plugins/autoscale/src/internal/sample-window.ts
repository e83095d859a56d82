import type { PoolSample } from '../scaling-policy.js'

/** What one window of samples says about a pool. Means are 0 when there is nothing to average. */
export interface WindowStats {
  /** Samples taken in the window. */
  samples: number
  /** Time covered by the lifetime counters' differences (ms). */
  elapsedMillis: number
  meanActive: number
  meanWaiting: number
  meanIdle: number
  /** Mean of connections being opened (open or opening, less those checked out or idle): a grow still under way. */
  meanOpening: number
  /** Mean of min(100, 100 x (active + waiting) / maxSize) over the samples. */
  meanUtilization: number
  /** Checkouts released in the window (the `useTime` count difference). */
  checkouts: number
  /** Checkouts released per second. */
  checkoutsPerSecond: number
  meanUseMillis: number
  /** Mean wait of the checkouts granted in the window. */
  meanWaitMillis: number
  /** Open connections at the last sample (including those being opened). */
  lastTotal: number
  /** Connections checked out at the last sample. */
  lastActive: number
  /** Idle connections at the last sample. */
  lastIdle: number
  /** Requests waiting at the last sample. */
  lastWaiting: number
  /** Connections still being closed at the last sample (0 when the pool cannot tell). */
  lastClosing: number
  /**
   * True when a sample of the window came over a second late, and over four times the usual time between
   * samples: the process stalled, or the clock jumped (a machine resumed).
   */
  stalled: boolean
}

interface Point {
  at: number
  useCount: number
  useSum: number
  waitCount: number
  waitSum: number
  total: number
  active: number
  idle: number
  waiting: number
  closing: number
}

/**
 * Accumulates samples between two evaluations. Keeps only numbers (never the metrics objects), and
 * takes the lifetime count/sum differences from the last sample of the previous window, so consecutive
 * windows cover time without gaps or overlaps.
 */
export class SampleWindow {
  #start: Point | undefined
  #last: Point | undefined
  #samples = 0
  #active = 0
  #waiting = 0
  #idle = 0
  #opening = 0
  #utilization = 0
  #stalled = false
  // The usual time between samples (a moving average of the gaps that were no stall): samples taken by hand
  // at a slow, even pace are no stall.
  #usualGap: number | undefined
  #longGaps = 0

  add(at: number, sample: PoolSample): void {
    if (this.#last !== undefined) this.#noteGap(at - this.#last.at)
    const point: Point = {
      at,
      useCount: sample.useTime.count,
      useSum: sample.useTime.sum,
      waitCount: sample.waitTime.count,
      waitSum: sample.waitTime.sum,
      total: sample.totalConnections,
      active: sample.activeConnections,
      idle: sample.idleConnections,
      waiting: sample.waitingRequests,
      closing: sample.closingConnections ?? 0,
    }
    // The first sample ever only opens the first window.
    this.#start ??= point
    this.#last = point
    this.#samples++
    this.#active += sample.activeConnections
    this.#waiting += sample.waitingRequests
    this.#idle += sample.idleConnections
    this.#opening += Math.max(0, sample.totalConnections - sample.activeConnections - sample.idleConnections)
    const size = Math.max(1, sample.maxSize)
    this.#utilization += Math.min(100, (100 * (sample.activeConnections + sample.waitingRequests)) / size)
  }

  #noteGap(gap: number): void {
    const usual = this.#usualGap
    if (usual === undefined) {
      this.#usualGap = gap
      return
    }
    if (gap > 1_000 && gap > 4 * usual) {
      this.#longGaps++
      // Three long gaps in a row are the new pace (samples taken by hand, slower from now on), not a stall.
      if (this.#longGaps < 3) {
        this.#stalled = true
        return
      }
      this.#longGaps = 0
      this.#usualGap = gap
      return
    }
    this.#longGaps = 0
    this.#usualGap = 0.8 * usual + 0.2 * gap
  }

  /** Checkouts released since the window opened, as of the last sample. */
  get checkouts(): number {
    return this.#start === undefined || this.#last === undefined ? 0 : Math.max(0, this.#last.useCount - this.#start.useCount)
  }

  /** Ends the window and returns its statistics, or `undefined` when it holds no sample. */
  close(): WindowStats | undefined {
    const stats = this.peek()
    if (stats === undefined) return undefined
    this.#start = this.#last
    this.#samples = 0
    this.#active = 0
    this.#waiting = 0
    this.#idle = 0
    this.#opening = 0
    this.#utilization = 0
    this.#stalled = false
    return stats
  }

  /** The statistics of the window so far, leaving it open; `undefined` when it holds no sample. */
  peek(): WindowStats | undefined {
    const start = this.#start
    const last = this.#last
    const n = this.#samples
    if (start === undefined || last === undefined || n === 0) return undefined
    const elapsedMillis = last.at - start.at
    const checkouts = Math.max(0, last.useCount - start.useCount)
    const grants = Math.max(0, last.waitCount - start.waitCount)
    return {
      samples: n,
      elapsedMillis,
      meanActive: this.#active / n,
      meanWaiting: this.#waiting / n,
      meanIdle: this.#idle / n,
      meanOpening: this.#opening / n,
      meanUtilization: this.#utilization / n,
      checkouts,
      checkoutsPerSecond: elapsedMillis > 0 ? (checkouts * 1000) / elapsedMillis : 0,
      meanUseMillis: checkouts > 0 ? (last.useSum - start.useSum) / checkouts : 0,
      meanWaitMillis: grants > 0 ? (last.waitSum - start.waitSum) / grants : 0,
      lastTotal: last.total,
      lastActive: last.active,
      lastIdle: last.idle,
      lastWaiting: last.waiting,
      lastClosing: last.closing,
      stalled: this.#stalled,
    }
  }
}
