import { type ManagedPool, type PoolCounters, type PoolSize, type ResizeOptions } from '@lifeguard/core'
import { checkOption, rejectOption, reportToUser, systemClock, validateOptions, type Clock, type ClockTimer } from '@lifeguard/core/adapter'
import { checkCustomPolicy, createPolicy, meantAsPolicy, type AutoscalePoolConfig } from './create-policy.js'
import { attachOptionRules } from './internal/attach-options.js'
import { enforceBounds } from './internal/bounds.js'
import { budgetOf, isEnabled } from './internal/config-info.js'
import { EventLoopLoad } from './internal/event-loop-load.js'
import { noteMinSize, ownMinSize } from './internal/lowered-min-size.js'
import { reportWarning } from './internal/report-warning.js'
import { RepeatedFailures } from './internal/repeated-failures.js'
import { checkSizeLimit } from './internal/size-limit.js'
import { checkClaims, claim, unclaim } from './internal/sizing-claims.js'
import type { EvaluationInput, ScalingDecision, ScalingPolicy } from './scaling-policy.js'
import type { SharedBudget } from './shared-budget.js'

/** Options of `attachAutoscaler()` (and of `autoscale()` and `withDynamicSizing()`). */
export interface AttachOptions {
  /**
   * Time for the policy and the autoscaler's timers, set as background timers (default: core's `systemClock`). A
   * `SharedBudget` keeps the clock it was created with (`createSharedBudget({ clock })`): give it the same one.
   */
  clock?: Clock | undefined
  /** Receives failures: a `resize` that throws, a budget query that fails. Default: `process.emitWarning`. */
  onError?: ((error: unknown) => void) | undefined
  /** Run the sampling, evaluation and budget timers (default `true`); `false` to call `sample()` and `evaluate()` yourself. */
  timers?: boolean | undefined
}

/** One pool under an autoscaler. */
export interface PoolAutoscaler {
  /** The pool it sizes. */
  readonly pool: ManagedPool
  /** What decides the size: built from the config, or the `ScalingPolicy` given. */
  readonly policy: ScalingPolicy
  /** The shared budget in use, if any. */
  readonly budget: SharedBudget | undefined
  /** False once `stop()` was called or the pool closed. */
  readonly running: boolean
  /** The last decision applied, if any. */
  readonly lastDecision: ScalingDecision | undefined
  /** Feeds the policy one sample of the pool's metrics now. */
  sample(): void
  /** Samples, asks the policy for a decision and applies it with `resize`; returns the decision applied. */
  evaluate(): ScalingDecision | undefined
  /**
   * Asks the shared budget for a count of the fleet's connections, which it sends only when one is due (at
   * once for the first; then sooner while the pool is short and the fleet has room, see `refreshMillis` and
   * `steadyRefreshMillis`); resolves once it has answered, or at once when none was due. Failures go to `onError`.
   */
  refreshBudget(): Promise<void>
  /** Ends sampling and evaluation; the pool keeps its current size. Idempotent. */
  stop(): void
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void
}

/**
 * Starts sizing one pool: samples its metrics every `sampleIntervalMillis`, asks the policy every
 * `evaluationIntervalMillis` (or sooner, when the policy's `dueInMillis()` says so), and applies each
 * decision with `pool.resize(size, { reason, details })`, so every change is a `resize` event carrying the
 * numbers behind it. Only core's metrics are read; the driver is never touched. Timers are unref'd: they
 * never keep the process alive. A pool whose size is outside the policy's bounds is moved inside them at once.
 * A pool closing or closed already gets an autoscaler that is not running (`running` is false) and sizes nothing.
 * While its timers run it also measures this process's event-loop delay and utilization and gives them to
 * the policy with each evaluation (`eventLoopDelayMillis`, `eventLoopUtilization`).
 *
 * @param config - a `DynamicPoolConfig`, an `AdaptivePoolConfig`, or a `ScalingPolicy` of your own
 * @throws {InvalidOptionError} naming the bad field, a `maxSize` above the pool's own `maxSizeLimit`, a
 *   `budget` or `policy` object another pool's running autoscaler uses, or a `pool` that is none or is frozen or
 *   sealed (the claim that keeps a second autoscaler off it is kept on it)
 * @throws {RegistrationError} when another autoscaler sizes the pool (stop it first)
 * @example
 * const scaler = attachAutoscaler(pool, { policy: 'adaptive', minSize: 2, maxSize: 50 })
 * // ...
 * scaler.stop() // the pool keeps its current size
 */
export function attachAutoscaler(pool: ManagedPool, config: AutoscalePoolConfig | ScalingPolicy, options: AttachOptions = {}): PoolAutoscaler {
  validateOptions('attachAutoscaler', options, attachOptionRules)
  return prepareAutoscaler(pool, config, options).start()
}

/** An autoscaler whose pool, config and claims passed every check of `attachAutoscaler()`, not started yet. */
export interface PreparedAutoscaler {
  readonly pool: ManagedPool
  readonly budget: SharedBudget | undefined
  readonly policy: ScalingPolicy
  /** Where the checks were made (`attachAutoscaler for pool '...'`), for the errors they throw. */
  readonly where: string
  /** Starts it: from here on it may resize the pool. */
  start(): PoolAutoscaler
}

/**
 * The checks of `attachAutoscaler()` (options aside), with nothing started: `autoscale()` checks every pool
 * before it starts any, so that a refused one leaves the others as they were.
 *
 * @throws {InvalidOptionError} / {RegistrationError} as `attachAutoscaler()`
 */
export function prepareAutoscaler(pool: ManagedPool, config: AutoscalePoolConfig | ScalingPolicy, options: AttachOptions): PreparedAutoscaler {
  checkOption('attachAutoscaler', 'pool', pool, { type: 'custom', expected: 'a ManagedPool, not frozen or sealed', check: isPool })
  const where = `attachAutoscaler for pool '${pool.name}'`
  const custom = meantAsPolicy(config)
  if (custom) checkCustomPolicy(config as ScalingPolicy, where)
  const policy = custom ? (config as ScalingPolicy) : createPolicy(config as AutoscalePoolConfig, options.clock === undefined ? {} : { clock: options.clock }, where)
  checkSizeLimit(pool, policy.maxSize, where)
  const budget = budgetOf(config)
  // The count is needed when the pool is short, which is when its queue is long: through a pool that cannot serve
  // it first, it would wait in line behind the requests it is meant to relieve, and time out before the pool grew.
  if (budget?.countsBehindCallersOf(pool) === true) {
    rejectOption(where, 'budget', 'a SharedBudget whose `query` is not the pool it sizes, unless that is a Lifeguard pool (give the count a client of its own)', budget)
  }
  checkClaims(pool, budget, policy, where)
  return {
    pool,
    budget,
    policy,
    where,
    start() {
      const runner = new Runner(pool, policy, budget, options, isEnabled(config))
      try {
        if (runner.running) claim(runner, budget)
      } catch (error) {
        // (A pool whose properties cannot be defined after all: a Proxy that refuses.) None left running unclaimed.
        runner.stop()
        throw error
      }
      return runner
    },
  }
}

// How long a shared budget's count may go unanswered before it is reported and asked again.
const budgetCountTimeoutMillis = 10_000
// The same failure again within this long is not reported again.
const repeatReportMillis = 10_000
class Runner implements PoolAutoscaler {
  readonly pool: ManagedPool
  readonly policy: ScalingPolicy
  readonly budget: SharedBudget | undefined
  readonly #onError: (error: unknown) => void
  readonly #clock: Clock
  readonly #timers = new Map<string, ClockTimer>()
  readonly #loop: EventLoopLoad | undefined
  // The pool's own minSize: lowered with maxSize when the policy goes below it, restored after. A minSize
  // the user sets while the autoscaler runs becomes the pool's own.
  #baseMinSize: number
  #running = true
  #lastEvaluationAt: number
  #lastDecision: ScalingDecision | undefined
  // The budget count under way: when it was asked for, and its promise (with the means to let its waiters go).
  #budgetInFlight: { readonly askedAt: number; readonly done: Promise<void>; readonly settle: () => void } | undefined

  constructor(pool: ManagedPool, policy: ScalingPolicy, budget: SharedBudget | undefined, options: AttachOptions, enabled: boolean) {
    this.pool = pool
    this.policy = policy
    this.budget = budget
    const onError = options.onError ?? reportWarning
    this.#clock = options.clock ?? systemClock
    // Errors of the user's code (a policy, the onError itself) never escape: they would crash the process from
    // a timer, or end the timer chain for good. A failure that persists (a policy that throws at every tick, a
    // budget count while the database is down) comes every 25 ms to 250 ms: the same one is reported once
    // every 10 s, not each time.
    const repeats = new RepeatedFailures(this.#clock, repeatReportMillis)
    this.#onError = (error) => {
      if (repeats.isNew(error)) reportToUser(onError, error, `the autoscaler of pool '${pool.name}'`, 'LIFEGUARD_AUTOSCALE_ON_ERROR_FAILED')
    }
    this.#lastEvaluationAt = this.#clock.now()
    const metrics = pool.getPoolMetrics()
    this.#baseMinSize = ownMinSize(pool, metrics.minSize)
    const timers = enabled && options.timers !== false && !isClosing(pool)
    this.#loop = timers ? new EventLoopLoad() : undefined
    // A pool closed already has nothing to size.
    if (!enabled || isClosing(pool)) {
      this.#running = false
      return
    }
    const outside = enforceBounds(metrics.maxSize, policy.minSize, policy.maxSize, undefined)
    if (outside !== undefined) this.#apply(outside, metrics)
    if (timers) {
      // One timer: every tick samples, or evaluates when the policy says it is due.
      this.#every('tick', policy.sampleIntervalMillis, () => this.#tick())
      if (budget !== undefined) {
        this.#every('budget', budget.refreshMillis, () => void this.refreshBudget())
        void this.refreshBudget()
      }
    }
  }

  get running(): boolean {
    if (this.#running && isClosing(this.pool)) this.stop()
    return this.#running
  }

  get lastDecision(): ScalingDecision | undefined {
    return this.#lastDecision
  }

  sample(): void {
    const metrics = this.#metrics()
    if (metrics === undefined) return
    try {
      this.policy.observe(metrics)
    } catch (error) {
      this.#onError(error)
    }
  }

  evaluate(): ScalingDecision | undefined {
    const metrics = this.#metrics()
    if (metrics === undefined) return undefined
    this.#lastEvaluationAt = this.#clock.now()
    let decision: ScalingDecision | undefined
    const input: EvaluationInput = { size: metrics.maxSize }
    try {
      this.policy.observe(metrics)
      const budgetLimit = this.budget?.limit(metrics.maxSize)
      if (budgetLimit !== undefined) input.budgetLimit = budgetLimit
      if (this.#loop !== undefined) {
        const loop = this.#loop.read()
        input.eventLoopDelayMillis = loop.delayMillis
        input.eventLoopUtilization = loop.utilization
      }
      decision = this.policy.evaluate(input)
    } catch (error) {
      this.#onError(error)
      return undefined
    }
    // A policy of the user's own may answer null for "no change" too.
    if (decision === undefined || decision === null) return undefined
    if (!Number.isInteger(decision.size) || decision.size < 1) {
      this.#onError(new RangeError(`Could not resize pool '${this.pool.name}'. Its policy decided a size of ${typeof decision.size === 'number' ? String(decision.size) : `${JSON.stringify(String(decision.size))} (${typeof decision.size})`}; a size is an integer >= 1.`))
      return undefined
    }
    // Bounds hold for a policy of the user's own too: a size outside them is brought back inside.
    decision = enforceBounds(decision.size, this.policy.minSize, this.policy.maxSize, input.budgetLimit) ?? decision
    if (decision.size === metrics.maxSize) return undefined
    return this.#apply(decision, metrics) ? decision : undefined
  }

  refreshBudget(): Promise<void> {
    const budget = this.budget
    // Its own timer may be the first to see the pool closed (the budget is read more often than the pool).
    if (budget === undefined || !this.running) return Promise.resolve()
    const inFlight = this.#budgetInFlight
    if (inFlight !== undefined) {
      // A count that never answers (a client on a half-open connection) would refuse every later one: the pool
      // would keep a stale limit for good, and nothing would say why. Once it is overdue (seen here: with
      // `timers: false` there is no timer to see it), it is reported and left behind, whoever waited on it is
      // let go, and a new count is asked for (an answer later than a newer one's is dropped by the budget).
      if (this.#clock.now() - inFlight.askedAt < budgetCountTimeoutMillis) return inFlight.done
      this.#onError(new Error(`The connection count of the shared budget '${budget.applicationName}' has not answered within ${budgetCountTimeoutMillis} ms. It is asked again; the pool keeps the last reading until it goes stale.`))
      inFlight.settle()
    }
    let settle!: () => void
    const done = new Promise<void>((resolve) => (settle = resolve))
    const counting = { askedAt: this.#clock.now(), done, settle }
    const settled = (): void => {
      if (this.#budgetInFlight === counting) this.#budgetInFlight = undefined
      settle()
    }
    // Read again when the count answers: an autoscaler stopped meanwhile (its pool closed, and perhaps replaced by a
    // new pool of that name on the same budget) would store a reading of a pool that holds nothing, whose limit is
    // the fleet's free share at most, for the new pool to shrink to. It is dropped instead.
    const own = (): PoolCounters => {
      if (!this.#running || isClosing(this.pool)) throw new Error('The autoscaler stopped while the count ran.')
      return readCounters(this.pool)
    }
    budget.refresh(own).then(settled, (error: unknown) => {
      // A count the pool's closing cut short (a shutdown) is no failure to report.
      if (this.running) this.#onError(error)
      settled()
    })
    this.#budgetInFlight = counting
    return done
  }

  stop(): void {
    this.#running = false
    // Whoever waits on a count under way is let go: no later refreshBudget() will (it returns once stopped), and
    // a count that never answers would hold them for good.
    this.#budgetInFlight?.settle()
    this.#budgetInFlight = undefined
    unclaim(this)
    for (const timer of this.#timers.values()) this.#clock.clearTimeout(timer)
    this.#timers.clear()
    this.#loop?.stop()
  }

  [Symbol.dispose](): void {
    this.stop()
  }

  #tick(): void {
    // Half a tick early counts as on time, so timer jitter does not push evaluations a whole tick late.
    const due = this.#lastEvaluationAt + this.#dueIn() - this.policy.sampleIntervalMillis / 2
    if (this.#clock.now() >= due) {
      this.evaluate()
      return
    }
    this.sample()
    if (this.#dueIn() === 0) this.evaluate()
  }

  // The policy's `dueInMillis()`, or its interval. An answer that is not a number >= 0 (`NaN` would never come
  // due: no evaluation ever again, and no word) is reported, and the interval stands in for it.
  #dueIn(): number {
    const interval = this.policy.evaluationIntervalMillis
    let due: unknown
    try {
      due = this.policy.dueInMillis?.() ?? interval
    } catch (error) {
      // Thrown at every tick, it would stop every evaluation (the tick asks it first): reported, as a bad answer is.
      this.#onError(error)
      return interval
    }
    if (typeof due === 'number' && Number.isFinite(due) && due >= 0) return due
    this.#onError(new TypeError(`The autoscaling policy's dueInMillis() returned ${String(due)}; expected a finite number >= 0. Its evaluationIntervalMillis (${interval}) is used instead.`))
    return interval
  }

  // A chain of one-shot timers through the clock (a manual one is driven by hand). A throw from `fn` (a
  // policy's `dueInMillis()`) is reported and the chain goes on: unguarded, it ended the chain for good.
  #every(name: string, millis: number, fn: () => void): void {
    const next = (): void => {
      if (!this.#running) return
      // Background timers: an autoscaler never keeps the process alive.
      this.#timers.set(name, this.#clock.setTimeout(() => {
        try {
          fn()
        } catch (error) {
          this.#onError(error)
        }
        next()
      }, millis, true))
    }
    next()
  }

  // The pool's metrics, or undefined (and the autoscaler stopped) once the pool is closing.
  #metrics(): PoolCounters | undefined {
    if (!this.running) return undefined
    try {
      return readCounters(this.pool)
    } catch (error) {
      this.#onError(error)
      return undefined
    }
  }

  #apply(decision: ScalingDecision, metrics: PoolCounters): boolean {
    // A minSize other than the one this autoscaler left is the user's own (`resize({ minSize })`).
    this.#baseMinSize = ownMinSize(this.pool, metrics.minSize)
    const minSize = Math.min(this.#baseMinSize, decision.size)
    const size: PoolSize = minSize === metrics.minSize ? { maxSize: decision.size } : { minSize, maxSize: decision.size }
    const options: ResizeOptions = { reason: decision.reason, details: { ...decision.details } }
    if (decision.keepSurplusMillis !== undefined) options.keepSurplusMillis = decision.keepSurplusMillis
    try {
      this.pool.resize(size, options)
    } catch (error) {
      this.#onError(error)
      return false
    }
    noteMinSize(this.pool, this.#baseMinSize, minSize)
    this.#lastDecision = decision
    return true
  }
}

function isClosing(pool: ManagedPool): boolean {
  return pool.state === 'closing' || pool.state === 'closed'
}

/** A `ManagedPool`: what `attachAutoscaler()` and `withDynamicSizing()` take. */
export function isPool(value: unknown): boolean {
  const pool = value as Partial<ManagedPool> | null
  // Extensible: the autoscaler's claim (and `withDynamicSizing()`'s methods) are kept on the pool itself, and a
  // claim that failed after the autoscaler started would leave it running with no handle to stop it.
  return typeof pool === 'object' && pool !== null && typeof pool.getPoolMetrics === 'function' && typeof pool.resize === 'function' && typeof pool.name === 'string' && Object.isExtensible(pool)
}

// Sampled often: the counters alone when the pool offers them (nothing sorted), else the full snapshot.
function readCounters(pool: ManagedPool): PoolCounters {
  return pool.getPoolCounters?.() ?? pool.getPoolMetrics()
}
