import type { PoolCounters, PoolMetrics } from './pool-contract.js'
import { redactError } from './redact.js'
import { TimeWindow } from './time-window.js'

/** The live numbers only the driver knows; `PoolStats.snapshot` adds the bookkeeping. */
export interface LivePoolState {
  totalConnections: number
  activeConnections: number
  idleConnections: number
  waitingRequests: number
  minSize: number
  maxSize: number
  /** True while the pool holds new checkouts (`suspend()`); absent for pools that cannot be suspended. */
  suspended?: boolean
}

/**
 * Counters and time windows of one pool, fed by its adapter. Kept in core so every driver reports the
 * same way.
 */
export class PoolStats {
  readonly created = new Date()
  readonly waitTime: TimeWindow
  readonly useTime: TimeWindow
  readonly createTime: TimeWindow
  errors = 0
  timeouts = 0
  leaks = 0
  #lastError: string | undefined
  #lastUsedMillis = 0
  readonly #secrets: readonly string[]

  /** @param secrets - strings to scrub from error messages (passwords, connection strings) */
  constructor(options: { windowSize?: number; secrets?: readonly string[] } = {}) {
    this.waitTime = new TimeWindow(options.windowSize)
    this.useTime = new TimeWindow(options.windowSize)
    this.createTime = new TimeWindow(options.windowSize)
    this.#secrets = options.secrets ?? []
  }

  /** A checkout was granted after waiting `millis`. */
  recordWait(millis: number): void {
    this.waitTime.record(millis)
    this.#lastUsedMillis = Date.now()
  }

  /** A checkout was released after `millis` of use. */
  recordUse(millis: number): void {
    this.useTime.record(millis)
    this.#lastUsedMillis = Date.now()
  }

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

  recordTimeout(): void {
    this.timeouts++
  }

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
      created: this.created,
      timeouts: this.timeouts,
      leaks: this.leaks,
      waitTime: this.waitTime.summary(),
      useTime: this.useTime.summary(),
      createTime: this.createTime.summary(),
    }
    if (this.#lastError !== undefined) metrics.lastError = this.#lastError
    if (this.#lastUsedMillis > 0) metrics.lastUsed = new Date(this.#lastUsedMillis)
    return metrics
  }
}
