import type { PoolEventListeners, PoolEventName, PoolEventMap } from './pool-events.js'

/** Statistics of a duration in milliseconds. `count` and `sum` cover the pool's lifetime; the rest a recent window. */
export interface TimeSummary {
  /** Samples recorded since the pool was created. */
  count: number
  /** Sum of all samples since the pool was created (ms): with `count`, gives means over any interval. */
  sum: number
  /** Mean of the recent window (ms). */
  mean: number
  /** Median of the recent window (ms). */
  p50: number
  /** 95th percentile of the recent window (ms). */
  p95: number
  /** 99th percentile of the recent window (ms). */
  p99: number
  /** Longest sample in the recent window (ms). */
  max: number
}

/** A live snapshot of one pool. The first nine fields are the classic set; the rest are Lifeguard's. */
export interface PoolMetrics {
  /** Connections open or being opened. */
  totalConnections: number
  /** Connections checked out. */
  activeConnections: number
  /** Open connections not checked out. */
  idleConnections: number
  /** Requests waiting for a connection. */
  waitingRequests: number
  /** Errors since the pool was created (connection and pool errors; a failing listener is not counted). */
  errors: number
  /** Last error message, redacted. */
  lastError?: string
  /** Mean checkout-to-release time (ms) over the recent window. */
  avgResponseTime: number
  /** When the pool was created. */
  created: Date
  /** When a connection was last checked out or released; absent until the first checkout. */
  lastUsed?: Date
  /** The current lower size bound (it follows `resize()`). */
  minSize: number
  /** The current upper size bound (it follows `resize()`). */
  maxSize: number
  /** Acquire timeouts since the pool was created. */
  timeouts: number
  /**
   * Requests refused at once since the pool was created: `maxWaitingRequests` were already waiting
   * (`PoolExhaustedError`). Absent for pools that do not count them.
   */
  rejectedRequests?: number
  /**
   * Waits for a connection since the pool was created that their operation ended by aborting (a deadline that
   * passed, a client gone) before a connection came (`OperationAbortedError` with `queued`). Absent for pools
   * that do not count them.
   */
  abandonedWaits?: number
  /** Suspected leaks since the pool was created. */
  leaks: number
  /** Waits for a connection (ms). */
  waitTime: TimeSummary
  /** Checkouts, from getting a connection to giving it back (ms). */
  useTime: TimeSummary
  /** Time to open each new connection (ms; a warm-up's validation comes after, not counted). */
  createTime: TimeSummary
  /** True while the pool holds new checkouts (`suspend()`); absent for pools that cannot be suspended. */
  suspended?: boolean
  /**
   * Connections being closed: they left the pool (it shrank, or they broke or aged out) and the driver
   * has not finished closing them, so each still holds a server connection. Absent for pools that cannot tell.
   */
  closingConnections?: number
  /**
   * Connections a shrink kept open above `maxSize` (`ResizeOptions.keepSurplusMillis`) for a grow to
   * reuse: each holds a server connection. Absent for pools that cannot keep them.
   */
  parkedConnections?: number
}

/** What `softEvict()` did. */
export interface SoftEvictReport {
  /** Idle connections closed at once. */
  closed: number
  /** Connections checked out, being validated or being opened: each is closed when it comes back. */
  closingOnRelease: number
}

/** Lifetime totals of one duration: differences of two readings give exact means over any interval. */
export interface DurationTotals {
  /** Samples recorded since the pool was created. */
  count: number
  /** Their sum (ms). */
  sum: number
}

/**
 * The cheap part of `PoolMetrics`, for readers that poll (metric scrapes, autoscaler samples): the live
 * connection numbers and the lifetime counters, without the recent window's percentiles (which sort it)
 * or the dates. Every field means what it means in `PoolMetrics`.
 */
export interface PoolCounters {
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
  /** Connections the driver is still closing (absent for pools that cannot tell). */
  closingConnections?: number
  /** Connections a shrink kept open above `maxSize` for reuse (absent for pools that cannot keep them). */
  parkedConnections?: number
  /** Errors since the pool was created. */
  errors: number
  /** Acquire timeouts since the pool was created. */
  timeouts: number
  /**
   * Requests refused at once since the pool was created: `maxWaitingRequests` were already waiting
   * (`PoolExhaustedError`). Absent for pools that do not count them.
   */
  rejectedRequests?: number
  /**
   * Waits for a connection since the pool was created that their operation ended by aborting (a deadline that
   * passed, a client gone) before a connection came (`OperationAbortedError` with `queued`). Absent for pools
   * that do not count them.
   */
  abandonedWaits?: number
  /** Suspected leaks since the pool was created. */
  leaks: number
  /** Waits for a connection (ms). */
  waitTime: DurationTotals
  /** Checkouts, from getting a connection to giving it back (ms). */
  useTime: DurationTotals
  /** Time to open each new connection (ms; a warm-up's validation comes after, not counted). */
  createTime: DurationTotals
}

/** What `warmup()` did. */
export interface WarmupReport {
  /** The pool's name. */
  pool: string
  /** Connections asked for. */
  requested: number
  /**
   * Connections opened and validated. On Lifeguard's PostgreSQL pool, connections checked out at the time
   * count too, unchecked: they are in use (not those `softEvict()` retires).
   */
  opened: number
  /** Connections asked for but not opened (`requested - opened`). */
  failed: number
  /** How long the warm-up took (ms). */
  durationMillis: number
}

/** Options for `warmup()`. */
export interface WarmupOptions {
  /** Connections to open; defaults to the pool's `minSize` (at least 1). */
  connections?: number | undefined
  /** Time allowed to open and validate them (ms); defaults to the pool's own connect or acquire timeout. */
  timeoutMillis?: number | undefined
}

/** A new size for `resize()`; either bound may be left out. */
export interface PoolSize {
  /** The new lower bound; left out, it stays (lowered with `maxSize` when that drops below it). */
  minSize?: number | undefined
  /** The new upper bound; left out, it stays. */
  maxSize?: number | undefined
}

/** Options for `resize()`. */
export interface ResizeOptions {
  /** Why the size changes; carried into the `resize` event (autoscalers say what they measured). */
  reason?: string | undefined
  /** Numbers behind the change (what an autoscaler measured), carried into the `resize` event. */
  details?: Readonly<Record<string, number>> | undefined
  /**
   * After a shrink, keep the connections above the new `maxSize` open, unused, for this long (ms), so a
   * grow within that time reuses them instead of opening new ones (each open and close costs the
   * database server a process start and exit). They count in `parkedConnections`, not in the pool's
   * other counts, and close with disconnect reason `resize` when the time is up (`lifetime` at their
   * lifetime). Default 0: closed at once; and a resize without it takes back the connections kept by an
   * earlier one that its new size has room for, and closes the rest. Pools that cannot keep connections
   * apart (MongoDB's driver pool) ignore it.
   */
  keepSurplusMillis?: number | undefined
}

/** A pool's lifecycle state. */
export type PoolState = 'created' | 'warming' | 'ready' | 'closing' | 'closed'

/** Where a pool's lifecycle events are subscribed to. */
export interface PoolEventSource {
  /**
   * Subscribes to an event; returns the unsubscribe function. The listener's return value is ignored, but a
   * promise's rejection is reported (to `error` listeners) as a throw would be.
   */
  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => unknown): () => void
}

/**
 * The contract every database pool implements, whatever its driver.
 */
export interface ManagedPool {
  /** Unique in its registry, e.g. `'orders'`. */
  readonly name: string
  /** `'postgres'`, `'mongodb'`, ... */
  readonly kind: string
  /** Where it connects, without credentials: `postgres://app@db:5432/orders`. */
  readonly target: string
  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`; it serves before `ready` too. */
  readonly state: PoolState
  /** The highest `maxSize` the pool can be resized to, when its driver fixes one (MongoDB's `maxPoolSize`). */
  readonly maxSizeLimit?: number
  /** Opens and validates connections before serving. @throws {PoolWarmupError} when none can open */
  warmup(options?: WarmupOptions): Promise<WarmupReport>
  /** Changes the size while running. @throws {InvalidOptionError} */
  resize(size: PoolSize, options?: ResizeOptions): void
  /** A full snapshot: live counts, lifetime counters and recent percentiles (which sorts the window). */
  getPoolMetrics(): PoolMetrics
  /**
   * The live numbers and lifetime counters alone: no sorting, for readers that poll often. Pools built on
   * core's `PoolMonitor` have it; a reader falls back to `getPoolMetrics()`, which holds the same fields,
   * for pools that do not: `pool.getPoolCounters?.() ?? pool.getPoolMetrics()`.
   */
  getPoolCounters?(): PoolCounters
  /**
   * Its lifecycle events: `pool.events.on('leak', listener)` returns the unsubscribe function. (A
   * property rather than `pool.on()`, so a pool can also keep an `EventEmitter` face such as `pg.Pool`'s.)
   */
  readonly events: PoolEventSource
  /** Graceful: stops new checkouts, waits for checked-out work (up to `timeoutMillis`), then closes. */
  close(options?: { timeoutMillis?: number | undefined }): Promise<void>
}

/** Options shared by every pool factory for its lifecycle listeners. */
export interface PoolEventsOption {
  /** Lifecycle listeners (`onConnect`, `onError`, ...): one set, or an array of sets. */
  events?: PoolEventListeners | readonly PoolEventListeners[] | undefined
}
