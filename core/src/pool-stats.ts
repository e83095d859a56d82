import { systemClock, type Clock } from './clock.js'
import type { PoolCounters, PoolMetrics } from './pool-contract.js'
import { redactError } from './redact.js'
import { TimeWindow } from './time-window.js'

/** The live numbers only the driver knows; `PoolStats.snapshot` adds the bookkeeping. */
export interface LivePoolState {
  /** Connections open or being opened. */
  totalConnections: number
  /** Connections checked out. */
  activeConnections: number
  /** Open connections not checked out. */
  idleConnections: number
  /** Requests waiting for a connection. */
  waitingRequests: number
  /** The current lower size bound. */
  minSize: number
  /** The current upper size bound. */
  maxSize: number
  /** True while the pool holds new checkouts (`suspend()`); absent for pools that cannot be suspended. */
  suspended?: boolean
  /**
   * Connections being closed: they left the pool (it shrank, or they broke or aged out) and the driver
   * has not finished closing them, so each still holds a server connection. Absent for pools that cannot tell.
   */
  closingConnections?: number
  /** Connections a shrink kept open above `maxSize` for reuse; absent for pools that cannot keep them. */
  parkedConnections?: number
}

/**
 * Counters and time windows of one pool, fed by its adapter. Kept in core so every driver reports the
 * same way.
 */
export class PoolStats {
  /** When these stats, and so the pool, were created. */
  readonly created = new Date()
  /** Waits for a connection (ms). */
  readonly waitTime: TimeWindow
  /** Checkouts, from getting a connection to giving it back (ms). */
  readonly useTime: TimeWindow
  /** Time to open each new connection (ms; a warm-up's validation comes after, not counted). */
  readonly createTime: TimeWindow
  /** Errors counted by `recordError()`. */
  errors = 0
  /** Acquire timeouts counted by `recordTimeout()`. */
  timeouts = 0
  /** Requests refused at once (`maxWaitingRequests`), counted by `recordRejection()`. */
  rejectedRequests = 0
  /** Waits ended by their operation aborting, counted by `recordAbandonedWait()`. */
  abandonedWaits = 0
  /** Suspected leaks counted by `recordLeak()`. */
  leaks = 0
  #lastError: string | undefined
  /** `clock.now()` of the last checkout or release (NaN: never): a wall-clock date only when read. */
  #lastUsedAt = Number.NaN
  readonly #createdAt: number
  readonly #clock: Clock
  readonly #secrets: readonly string[]

  /**
   * @param options - `windowSize`: samples kept per time window; `secrets`: strings to scrub from error
   *   messages (passwords, connection strings); `clock`: where `lastUsed` times are read (the pool's clock)
   */
  constructor(options: { windowSize?: number; secrets?: readonly string[]; clock?: Clock } = {}) {
    this.waitTime = new TimeWindow(options.windowSize)
    this.useTime = new TimeWindow(options.windowSize)
    this.createTime = new TimeWindow(options.windowSize)
    this.#secrets = options.secrets ?? []
    this.#clock = options.clock ?? systemClock
    this.#createdAt = this.#clock.now()
  }

  /** A checkout was granted after waiting `millis`, at `now` on the pool's clock (a hot path: one clock read per checkout). */
  recordWait(millis: number, now = this.#clock.now()): void {
    this.waitTime.record(millis)
    this.#lastUsedAt = now
  }

  /** A checkout was released after `millis` of use, at `now` on the pool's clock. */
  recordUse(millis: number, now = this.#clock.now()): void {
    this.useTime.record(millis)
    this.#lastUsedAt = now
  }

  /** A connection was opened in `millis`. */
  recordCreate(millis: number): void {
    this.createTime.record(millis)
  }

  /** Counts an error and keeps its redacted message; returns the redacted error for events. */
  recordError(error: unknown): Error {
    const safe = redactError(error, this.#secrets)
    this.errors++
    this.#lastError = safe.message
    return safe
  }

  /** Counts one acquire timeout. */
  recordTimeout(): void {
    this.timeouts++
  }

  /** Counts one request refused at once: `maxWaitingRequests` were waiting. */
  recordRejection(): void {
    this.rejectedRequests++
  }

  /** Counts one wait for a connection that its operation ended by aborting. */
  recordAbandonedWait(): void {
    this.abandonedWaits++
  }

  /** Counts one suspected leak. */
  recordLeak(): void {
    this.leaks++
  }

  /** Redacts an error with this pool's secrets without counting it. */
  redact(error: unknown): Error {
    return redactError(error, this.#secrets)
  }

  /** The driver's live numbers plus the lifetime counters: what `getPoolCounters()` returns, without sorting anything. */
  counters(live: LivePoolState): PoolCounters {
    return {
      ...live,
      errors: this.errors,
      timeouts: this.timeouts,
      rejectedRequests: this.rejectedRequests,
      abandonedWaits: this.abandonedWaits,
      leaks: this.leaks,
      waitTime: this.waitTime.totals(),
      useTime: this.useTime.totals(),
      createTime: this.createTime.totals(),
    }
  }

  /** The full metrics: the driver's live numbers plus the bookkeeping. */
  snapshot(live: LivePoolState): PoolMetrics {
    const metrics: PoolMetrics = {
      ...live,
      errors: this.errors,
      avgResponseTime: this.useTime.mean,
      // A copy: a caller that changes its snapshot's date must not move the pool's own.
      created: new Date(this.created.getTime()),
      timeouts: this.timeouts,
      rejectedRequests: this.rejectedRequests,
      abandonedWaits: this.abandonedWaits,
      leaks: this.leaks,
      waitTime: this.waitTime.summary(),
      useTime: this.useTime.summary(),
      createTime: this.createTime.summary(),
    }
    if (this.#lastError !== undefined) metrics.lastError = this.#lastError
    if (!Number.isNaN(this.#lastUsedAt)) metrics.lastUsed = new Date(this.created.getTime() + (this.#lastUsedAt - this.#createdAt))
    return metrics
  }
}
