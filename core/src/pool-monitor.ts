import { performance } from 'node:perf_hooks'
import { OperationContext } from './operation-context.js'
import { validateOptions, type OptionRules } from './options.js'
import { PoolEventHub, poolEventsRule, type DisconnectReason, type OperationOwner, type PoolErrorEvent, type PoolEventListeners } from './pool-events.js'
import type { PoolMetrics } from './pool-contract.js'
import { PoolStats, type LivePoolState } from './pool-stats.js'

/** Options of a `PoolMonitor`. */
export interface PoolMonitorOptions {
  name: string
  kind: string
  /** Redacted target, for the `poolCreated` event. */
  target: string
  events?: PoolEventListeners | readonly PoolEventListeners[] | undefined
  /** Fire `leak` when a checkout is held longer than this (0 or undefined: off). */
  leakDetectionMillis?: number | undefined
  /** Strings to scrub from every reported error. */
  secrets?: readonly string[]
  /** Samples kept per time window (default 1024). */
  windowSize?: number
}

const monitorRules: OptionRules<PoolMonitorOptions> = {
  name: { type: 'string', nonEmpty: true },
  kind: { type: 'string', nonEmpty: true },
  target: { type: 'string' },
  events: poolEventsRule,
  leakDetectionMillis: { type: 'duration', optional: true },
  secrets: { type: 'custom', expected: 'an array of strings', check: (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), optional: true },
  windowSize: { type: 'integer', min: 1, optional: true },
}

/** One checked-out connection, from `acquired()` to `released()`. */
export interface Checkout {
  readonly startedAt: number
  /** The operation that took it (captured cheaply; turned into an owner record only when reported). */
  readonly context: OperationContext | undefined
  /** Holds the stack where it was taken, formatted only if a leak is reported. */
  readonly origin: { stack?: string } | undefined
  leakTimer: NodeJS.Timeout | undefined
  leaked: boolean
}

/**
 * The bookkeeping half of a pool, shared by every adapter: metrics, lifecycle events, leak detection.
 * Adapters call it from their driver's events; it never touches a driver.
 */
export class PoolMonitor {
  readonly stats: PoolStats
  readonly events: PoolEventHub
  readonly #target: string
  #leakDetectionMillis: number

  /**
   * @throws {InvalidOptionError} for bad options: a leak timer above `MAX_TIMER_MILLIS` would fire at once,
   *   and a bad listener map would fail only when its event fires
   */
  constructor(options: PoolMonitorOptions) {
    validateOptions(`the monitor of pool '${String(options?.name)}'`, options, monitorRules)
    this.#target = options.target
    this.#leakDetectionMillis = options.leakDetectionMillis ?? 0
    this.events = new PoolEventHub(options.name, options.kind, options.events)
    this.stats = new PoolStats({ ...(options.windowSize === undefined ? {} : { windowSize: options.windowSize }), secrets: options.secrets ?? [] })
  }

  get leakDetectionMillis(): number {
    return this.#leakDetectionMillis
  }

  /** Emits `poolCreated`. */
  poolCreated(minSize: number, maxSize: number): void {
    this.events.emit('poolCreated', { target: this.#target, minSize, maxSize })
  }

  /** A connection is open and validated. */
  connected(connectionId: string | number, createMillis: number): void {
    this.stats.recordCreate(createMillis)
    this.events.emit('connect', { connectionId, createMillis })
  }

  disconnected(connectionId: string | number | undefined, reason: DisconnectReason): void {
    if (!this.events.has('disconnect')) return
    this.events.emit('disconnect', connectionId === undefined ? { reason } : { connectionId, reason })
  }

  /** Counts and reports an error; returns it redacted. */
  error(error: unknown, source: PoolErrorEvent['source']): Error {
    const safe = this.stats.recordError(error)
    this.events.emit('error', { error: safe, source })
    return safe
  }

  /** A checkout was granted after `waitMillis`; starts its use clock and leak timer. */
  acquired(waitMillis: number): Checkout {
    this.stats.recordWait(waitMillis)
    const context = OperationContext.tryCurrent()
    let origin: { stack?: string } | undefined
    if (this.#leakDetectionMillis > 0) {
      origin = {}
      // Captures the frames now; V8 formats them only if `stack` is read (on a leak).
      Error.captureStackTrace(origin, this.acquired)
    }
    const checkout: Checkout = { startedAt: performance.now(), context, origin, leakTimer: undefined, leaked: false }
    if (this.#leakDetectionMillis > 0) {
      checkout.leakTimer = setTimeout(() => this.#suspectLeak(checkout), this.#leakDetectionMillis)
      checkout.leakTimer.unref()
    }
    if (this.events.has('acquire')) {
      const owner = ownerOf(context)
      this.events.emit('acquire', owner === undefined ? { waitMillis } : { waitMillis, owner })
    }
    return checkout
  }

  /** The checkout ended; returns its use time in ms. */
  released(checkout: Checkout): number {
    const useMillis = performance.now() - checkout.startedAt
    this.stats.recordUse(useMillis)
    if (checkout.leakTimer !== undefined) clearTimeout(checkout.leakTimer)
    if (checkout.leaked) {
      const owner = ownerOf(checkout.context)
      this.events.emit('leak', { state: 'resolved', heldMillis: useMillis, ...(owner === undefined ? {} : { owner }) })
    }
    if (this.events.has('release')) {
      const owner = ownerOf(checkout.context)
      this.events.emit('release', owner === undefined ? { useMillis } : { useMillis, owner })
    }
    return useMillis
  }

  /** A waiter gave up after `waitMillis`. */
  timedOut(waitMillis: number, waitingRequests: number, cause?: unknown): void {
    this.stats.recordTimeout()
    if (!this.events.has('timeout')) return
    this.events.emit('timeout', cause === undefined ? { waitMillis, waitingRequests } : { waitMillis, waitingRequests, cause: this.stats.redact(cause) })
  }

  /** Emits `resize`. */
  resized(previous: { minSize: number; maxSize: number }, next: { minSize: number; maxSize: number }, reason: string, details?: Readonly<Record<string, number>>): void {
    this.events.emit('resize', details === undefined ? { previous, next, reason } : { previous, next, reason, details })
  }

  /** Full metrics from the driver's live numbers. */
  snapshot(live: LivePoolState): PoolMetrics {
    return this.stats.snapshot(live)
  }

  #suspectLeak(checkout: Checkout): void {
    checkout.leaked = true
    this.stats.recordLeak()
    const owner = ownerOf(checkout.context)
    const stack = checkout.origin?.stack
    this.events.emit('leak', {
      state: 'suspected',
      heldMillis: performance.now() - checkout.startedAt,
      ...(owner === undefined ? {} : { owner }),
      ...(stack === undefined ? {} : { stack: stack.replace(/^Error\n/, '') }),
    })
  }
}

/** The owner record of an operation (or undefined outside any). */
export function ownerOf(context: OperationContext | undefined = OperationContext.tryCurrent()): OperationOwner | undefined {
  if (context === undefined) return undefined
  return context.requestId === undefined
    ? { handler: context.handler, operation: context.operation }
    : { handler: context.handler, operation: context.operation, requestId: context.requestId }
}
