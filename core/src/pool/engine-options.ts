import { rejectOption, validateOptions } from '../options.js'
import type { PoolMonitor } from '../pool-monitor.js'
import type { PoolSize, ResizeOptions, WarmupOptions } from '../pool-contract.js'
import type { ConnectionFactory } from './connection-factory.js'

/** Settings of a `PoolEngine`. Durations are in milliseconds; adapters validate and default them. */
export interface PoolEngineOptions<C> {
  /** The pool's name, for errors. */
  readonly name: string
  /** Where it connects, without credentials, for errors. */
  readonly target: string
  readonly factory: ConnectionFactory<C>
  /** Metrics, events and leak detection; its `clock` is the engine's clock. */
  readonly monitor: PoolMonitor
  readonly minSize: number
  readonly maxSize: number
  /** Longest wait for a connection before `PoolTimeoutError`; 0 waits without limit. */
  readonly acquireTimeoutMillis: number
  /** Longest time one connection attempt may take; 0 leaves it to the driver. */
  readonly connectTimeoutMillis: number
  /** The name users know `connectTimeoutMillis` by, for the timeout's message (default `connectTimeoutMillis`). */
  readonly connectTimeoutOption?: string
  /** Callers beyond this many waiting get `PoolExhaustedError` at once (undefined: unbounded). */
  readonly maxWaitingRequests?: number | undefined
  /** An idle connection above `minSize` closes after this long; 0 keeps it. */
  readonly idleTimeoutMillis: number
  /** A connection closes after this long (when idle, or on release); 0 means no limit. */
  readonly maxLifetimeMillis: number
  /** Each connection's lifetime is shortened by a random amount up to this. */
  readonly maxLifetimeJitterMillis: number
  /** A connection idle at least this long is validated before it is handed out (0: every time). */
  readonly validateAfterIdleMillis: number
  /** A connection closes after this many checkouts (Infinity: never). */
  readonly maxUses: number
  /**
   * True: a failed connection attempt that may pass is retried (with backoff) while callers wait, who
   * then time out with the last failure as the cause. False: each failed attempt fails one waiting
   * caller at once with its error (how `pg.Pool` behaves).
   */
  readonly retryCreate: boolean
  /** Random numbers in [0, 1) for lifetime jitter (tests pin it). */
  readonly random?: () => number
}

/** Both bounds of a pool's size. */
export interface SizeBounds {
  minSize: number
  maxSize: number
}

/**
 * Checks a `resize()` call and returns the new size (a bound left out keeps its value; lowering only
 * `maxSize` below `minSize` lowers `minSize` with it).
 *
 * @throws {InvalidOptionError} for a missing or bad size, or `minSize` > `maxSize`
 */
export function resolveResize(current: SizeBounds, size: PoolSize, options: ResizeOptions | undefined): SizeBounds {
  if (typeof size !== 'object' || size === null) rejectOption('resize', 'size', 'an object with `minSize` and/or `maxSize`', size)
  validateOptions('resize', size, {
    minSize: { type: 'integer', min: 0, optional: true },
    maxSize: { type: 'integer', min: 1, optional: true },
  })
  validateOptions('resize', options, {
    reason: { type: 'string', nonEmpty: true, optional: true },
    details: { type: 'object', optional: true },
  })
  const maxSize = size.maxSize ?? current.maxSize
  const minSize = size.minSize ?? Math.min(current.minSize, maxSize)
  if (minSize > maxSize) rejectOption('resize', 'minSize', `an integer <= maxSize (${maxSize})`, minSize)
  return { minSize, maxSize }
}

/**
 * Checks `warmup()` options.
 *
 * @throws {InvalidOptionError} for `connections` outside 1..maxSize or a bad `timeoutMillis`
 */
export function checkWarmupOptions(options: WarmupOptions | undefined, maxSize: number): WarmupOptions {
  return validateOptions('warmup', options, {
    connections: { type: 'integer', min: 1, max: maxSize, optional: true },
    timeoutMillis: { type: 'duration', min: 1, optional: true },
  })
}
