import { clockRule, systemClock, type Clock, type ClockTimer } from './clock.js'
import { contextStorage } from './context-storage.js'
import { OperationContext } from './operation-context.js'
import { liveOperation } from './operation-hooks.js'
import { poolNameRule, shownName, validateOptions, type OptionRules } from './options.js'
import { redactText } from './redact.js'
import { PoolEventHub, poolEventsRule, type DisconnectReason, type OperationOwner, type PoolErrorEvent, type PoolEventListeners, type PoolEventMap, type PoolEventName, type QueryEvent } from './pool-events.js'
import type { PoolCounters, PoolMetrics } from './pool-contract.js'
import { PoolStats, type LivePoolState } from './pool-stats.js'

/** Options of a `PoolMonitor`. */
export interface PoolMonitorOptions {
  /** The pool's name, in every event. */
  name: string
  /** The pool's kind (`postgres`, `mongodb`, ...), in every event. */
  kind: string
  /** Redacted target, for the `poolCreated` event. */
  target: string
  /** The pool's `events` option: one set of listeners, or an array of sets. */
  events?: PoolEventListeners | readonly PoolEventListeners[] | undefined
  /** Fire `leak` when a checkout is held longer than this (0 or undefined: off). */
  leakDetectionMillis?: number | undefined
  /** Strings to scrub from every reported error. */
  secrets?: readonly string[]
  /** Samples kept per time window (default 1024). */
  windowSize?: number
  /** Where time is read and leak timers are set (default: the system clock). */
  clock?: Clock
}

const monitorRules: OptionRules<PoolMonitorOptions> = {
  name: poolNameRule,
  kind: { type: 'string', nonEmpty: true },
  target: { type: 'string' },
  events: poolEventsRule,
  leakDetectionMillis: { type: 'duration', optional: true },
  secrets: { type: 'custom', expected: 'an array of strings', check: (v) => Array.isArray(v) && v.every((s) => typeof s === 'string'), optional: true },
  // Three sample windows of this many doubles each: a typo's 1e8 would take 2.4 GB.
  windowSize: { type: 'integer', min: 1, max: 1_000_000, optional: true },
  clock: clockRule,
}

/** One checked-out connection, from `acquired()` to `released()`. */
export interface Checkout {
  /** `clock.now()` when it was granted. */
  readonly startedAt: number
  /** The operation that took it (captured cheaply; turned into an owner record only when reported). */
  readonly context: OperationContext | undefined
  /** Holds the stack where it was taken, formatted only if a leak is reported. */
  readonly origin: { stack?: string } | undefined
  /** The timer that suspects a leak; undefined when leak detection is off. */
  leakTimer: ClockTimer | undefined
  /** True once a leak was suspected: its release then emits `leak` with state `resolved`. */
  leaked: boolean
}

/**
 * The bookkeeping half of a pool, shared by every adapter: metrics, lifecycle events, leak detection.
 * Adapters (or core's pool engine) call it; it never touches a driver.
 *
 * Listeners of `acquire`, `release`, `leak`, `timeout` and `query` run inside the operation that owns the
 * checkout (so a logger reading `OperationContext.current()` sees the right request), whatever code
 * path fired them; listeners of the other events run outside any operation.
 */
export class PoolMonitor {
  /** The pool's counters and time windows. */
  readonly stats: PoolStats
  /** The pool's listeners: `events.has(name)` tells whether anyone will read a payload. */
  readonly events: PoolEventHub
  /** Where the pool reads time and sets timers (the `clock` option, else the system clock). */
  readonly clock: Clock
  readonly #target: string
  #leakDetectionMillis: number

  /**
   * @throws {InvalidOptionError} for bad options: a leak timer above `MAX_TIMER_MILLIS` would fire at once,
   *   and a bad listener map would fail only when its event fires
   */
  constructor(options: PoolMonitorOptions) {
    // A name that is a connection string is refused below; the message must not quote its password on the way.
    validateOptions(`the monitor of pool '${shownName(String(options?.name))}'`, options, monitorRules)
    // Told in every poolCreated event: an adapter's target must not carry a password there.
    this.#target = redactText(options.target, options.secrets)
    this.#leakDetectionMillis = options.leakDetectionMillis ?? 0
    this.clock = options.clock ?? systemClock
    this.events = new PoolEventHub(options.name, options.kind, options.events, options.secrets ?? [])
    this.stats = new PoolStats({ ...(options.windowSize === undefined ? {} : { windowSize: options.windowSize }), secrets: options.secrets ?? [], clock: this.clock })
  }

  /** How long a checkout may be held before `leak` fires (ms); 0: detection off. */
  get leakDetectionMillis(): number {
    return this.#leakDetectionMillis
  }

  /** Emits `poolCreated`. */
  poolCreated(minSize: number, maxSize: number): void {
    this.#emit(undefined, 'poolCreated', { target: this.#target, minSize, maxSize })
  }

  /** A connection opened (before any validation). */
  connected(connectionId: string | number, createMillis: number): void {
    this.stats.recordCreate(createMillis)
    this.#emit(undefined, 'connect', { connectionId, createMillis })
  }

  /** A connection closed: emits `disconnect` with `reason`. */
  disconnected(connectionId: string | number | undefined, reason: DisconnectReason): void {
    this.#emit(undefined, 'disconnect', connectionId === undefined ? { reason } : { connectionId, reason })
  }

  /** Counts and reports an error; returns it redacted. */
  error(error: unknown, source: PoolErrorEvent['source']): Error {
    const safe = this.stats.recordError(error)
    this.#emit(undefined, 'error', { error: safe, source })
    return safe
  }

  /**
   * Where a checkout is being asked for, when leak detection is on: the caller's frames, captured
   * now and formatted only if a leak is reported. Undefined when detection is off.
   */
  captureOrigin(): { stack?: string } | undefined {
    if (this.#leakDetectionMillis === 0) return undefined
    const origin: { stack?: string } = {}
    // The library's own frames (a handle, a transaction, the pool, its engine) take up to seven of V8's default
    // ten, which left a report one or two frames of the application's: room for as many again.
    const limit = Error.stackTraceLimit
    if (Number.isFinite(limit)) Error.stackTraceLimit = limit + 10
    try {
      Error.captureStackTrace(origin, this.captureOrigin)
    } finally {
      Error.stackTraceLimit = limit
    }
    return origin
  }

  /**
   * A checkout was granted after `waitMillis`; starts its use clock and leak timer.
   *
   * @param context - the operation that asked (default: the current one)
   * @param origin - where it asked, from `captureOrigin()` (default: captured here)
   * @param now - the clock's time, when the caller has just read it (clock reads are a hot path's cost)
   */
  acquired(waitMillis: number, context: OperationContext | undefined = liveOperation(), origin = this.captureOrigin(), now = this.clock.now()): Checkout {
    return this.acquiredBy(waitMillis, context, origin, now)
  }

  /**
   * @internal `acquired()` for a pool that knows whose checkout it is: an engine granting one to a waiter,
   * often while another operation releases a connection, or a handle of an operation called outside it.
   * `undefined` means no one's (where `acquired()` would take the current operation for its owner).
   */
  acquiredBy(waitMillis: number, context: OperationContext | undefined, origin: { stack?: string } | undefined, now: number): Checkout {
    this.stats.recordWait(waitMillis, now)
    const checkout: Checkout = { startedAt: now, context, origin, leakTimer: undefined, leaked: false }
    if (this.#leakDetectionMillis > 0) checkout.leakTimer = this.clock.setTimeout(() => this.#suspectLeak(checkout), this.#leakDetectionMillis, true)
    if (this.events.has('acquire')) {
      const { pool, kind } = this.events
      const owner = ownerOfContext(context)
      this.#dispatch(context, 'acquire', owner === undefined ? { pool, kind, waitMillis } : { pool, kind, waitMillis, owner })
    }
    return checkout
  }

  /** The checkout ended (at `now`, when the caller has just read the clock); returns its use time in ms. */
  released(checkout: Checkout, now = this.clock.now()): number {
    const useMillis = now - checkout.startedAt
    this.stats.recordUse(useMillis, now)
    if (checkout.leakTimer !== undefined) this.clock.clearTimeout(checkout.leakTimer)
    if (checkout.leaked) {
      const owner = ownerOfContext(checkout.context)
      this.#emit(checkout.context, 'leak', { state: 'resolved', heldMillis: useMillis, ...(owner === undefined ? {} : { owner }) })
    }
    if (this.events.has('release')) {
      const { pool, kind } = this.events
      const owner = ownerOfContext(checkout.context)
      this.#dispatch(checkout.context, 'release', owner === undefined ? { pool, kind, useMillis } : { pool, kind, useMillis, owner })
    }
    return useMillis
  }

  /** A request was refused at once: `maxWaitingRequests` were waiting (counted; no event). */
  rejected(): void {
    this.stats.recordRejection()
  }

  /** A wait for a connection ended because its operation aborted (counted; no event). */
  abandoned(): void {
    this.stats.recordAbandonedWait()
  }

  /** A waiter gave up after `waitMillis`: emits `timeout` in the current operation (call it where the waiter awaited). */
  timedOut(waitMillis: number, waitingRequests: number, cause?: unknown): void {
    this.timedOutIn(waitMillis, waitingRequests, cause, liveOperation())
  }

  /**
   * As `timedOut`, in the operation given (`undefined`: in none). For a queue's own timer, which runs in
   * whichever operation armed it: a wait made outside any operation must not be reported in a bystander's.
   */
  timedOutIn(waitMillis: number, waitingRequests: number, cause: unknown, context: OperationContext | undefined): void {
    this.stats.recordTimeout()
    if (!this.events.has('timeout')) return
    this.#emit(context, 'timeout', cause === undefined ? { waitMillis, waitingRequests } : { waitMillis, waitingRequests, cause: this.stats.redact(cause) })
  }

  /**
   * A statement or command finished after `durationMillis`: emits `query` inside the operation that ran
   * it. Costs one check when nobody listens; adapters read the clock for a statement only when
   * `events.has('query')`, so an unheard statement is not even timed.
   *
   * @param operation - the statement's kind (first SQL keyword, command name), never its text
   * @param error - why it failed; reported redacted
   * @param context - the operation that ran it, if any
   * @param namespace - the database it ran in, if known
   */
  queried(durationMillis: number, operation: string | undefined, error: unknown, context: OperationContext | undefined, namespace?: string): void {
    if (!this.events.has('query')) return
    const { pool, kind } = this.events
    const event: QueryEvent = { pool, kind, durationMillis }
    if (operation !== undefined) event.operation = operation
    if (namespace !== undefined) event.namespace = namespace
    if (error !== undefined) event.error = this.stats.redact(error)
    this.#dispatch(context, 'query', event)
  }

  /** Emits `resize`. */
  resized(previous: { minSize: number; maxSize: number }, next: { minSize: number; maxSize: number }, reason: string, details?: Readonly<Record<string, number>>): void {
    this.#emit(undefined, 'resize', details === undefined ? { previous, next, reason } : { previous, next, reason, details })
  }

  /** Emits `suspend`. */
  suspended(activeConnections: number, waitingRequests: number): void {
    this.#emit(undefined, 'suspend', { activeConnections, waitingRequests })
  }

  /** Emits `resume`. */
  resumed(suspendedMillis: number, waitingRequests: number): void {
    this.#emit(undefined, 'resume', { suspendedMillis, waitingRequests })
  }

  /** The live numbers and lifetime counters (`getPoolCounters()`): nothing sorted. */
  counters(live: LivePoolState): PoolCounters {
    return this.stats.counters(live)
  }

  /** Full metrics from the driver's live numbers. */
  snapshot(live: LivePoolState): PoolMetrics {
    return this.stats.snapshot(live)
  }

  #suspectLeak(checkout: Checkout): void {
    checkout.leaked = true
    this.stats.recordLeak()
    const owner = ownerOfContext(checkout.context)
    const stack = checkout.origin?.stack
    this.#emit(checkout.context, 'leak', {
      state: 'suspected',
      heldMillis: this.clock.now() - checkout.startedAt,
      ...(owner === undefined ? {} : { owner }),
      ...(stack === undefined ? {} : { stack: stack.replace(/^Error\n/, '') }),
    })
  }

  // Events fire from wherever the pool happens to be (a socket callback of another request, a timer):
  // run the listeners in the owning operation, or in none, never in a bystander's.
  #emit<E extends PoolEventName>(context: OperationContext | undefined, event: E, payload: Omit<PoolEventMap[E], 'pool' | 'kind'>): void {
    if (!this.events.has(event)) return
    this.#dispatch(context, event, { pool: this.events.pool, kind: this.events.kind, ...payload } as PoolEventMap[E])
  }

  #dispatch<E extends PoolEventName>(context: OperationContext | undefined, event: E, full: PoolEventMap[E]): void {
    if (contextStorage.getStore() === context) this.events.dispatch(event, full)
    else if (context === undefined) contextStorage.exit(() => this.events.dispatch(event, full))
    else contextStorage.run(context, () => this.events.dispatch(event, full))
  }
}

/** The owner record of an operation (or undefined outside any). */
export function ownerOf(context: OperationContext | undefined = liveOperation()): OperationOwner | undefined {
  return ownerOfContext(context)
}

// A checkout's owner: its own operation's, none when it had none (never the current operation's, which is
// often the one that released a connection or fired a timer).
function ownerOfContext(context: OperationContext | undefined): OperationOwner | undefined {
  if (context === undefined) return undefined
  return context.requestId === undefined
    ? { handler: context.handler, operation: context.operation }
    : { handler: context.handler, operation: context.operation, requestId: context.requestId }
}
