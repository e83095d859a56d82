import { resolveAdaptiveConfig, type AdaptivePoolConfig, type ResolvedAdaptiveConfig } from './adaptive-config.js'
import { systemClock, type Clock } from './clock.js'
import { enforceBounds, rounded, upperBound } from './internal/bounds.js'
import { SampleWindow, type WindowStats } from './internal/sample-window.js'
import type { EvaluationInput, PoolSample, ScalingDecision, ScalingPolicy } from './scaling-policy.js'
import type { PolicyOptions } from './threshold-policy.js'

/** A growth step waiting for its verdict: the numbers measured before it. */
interface PendingStep {
  from: number
  to: number
  checkoutsPerSecond: number
  meanUseMillis: number
  meanActive: number
  /** Windows spent waiting for the new connections to open. */
  windows: number
  /** The new connections are open: the next window is clean and judges the step. */
  opened: boolean
}

/** What one window measured, reduced to what the policy decides on. */
interface Measure {
  /** The window had `minSamples` checkouts: its rate and times count. */
  enough: boolean
  checkoutsPerSecond: number
  meanUseMillis: number
  meanWaitMillis: number
  /** Connections the load asks for (Little's law, or the sampled occupancy in a near-empty window). */
  demand: number
  /** `demand` with headroom, rounded up. */
  target: number
}

// A step is judged on the first window after its connections are open (opening them costs the server
// CPU, which would blur the verdict); it gives up waiting after this many windows.
const maxSettleWindows = 4
// Below this growth in connections actually used, a step proves nothing either way.
const minJudgedGrowth = 1.1

/**
 * Sizes a pool from what it measures. Each window (the samples between two evaluations) gives the
 * checkout rate and the mean use and wait times; Little's law turns them into the connections the load
 * asks for: `demand = rate x (use + wait)`, and `target = demand x headroom`.
 *
 * - **Grow** when checkouts wait and the pool is full. A first step multiplies the size by
 *   `probeFactor`; the next window judges it by its efficiency (throughput gained per connection added,
 *   relative to the throughput per connection before). At or above `leapEfficiency` the following step
 *   goes straight to the target; between `kneeEfficiency` and that, it climbs by half a probe.
 * - **Brake at the knee** when a step did not pay (below `kneeEfficiency`): more connections, same
 *   throughput, longer use time means the database itself is the bottleneck. The pool goes back to the
 *   connections that carry the new throughput at the old use time, and that size caps growth for
 *   `kneeHoldMillis` (then it probes again).
 * - **Shrink** when connections sit idle: to the highest target of the last `scaleDownDelayMillis`, only
 *   when that is `hysteresis` below the size and `cooldownMillis` after the last growth.
 * - Windows with fewer than `minSamples` checkouts are ignored for rates and times.
 *
 * @example
 * const policy = new AdaptivePolicy({ policy: 'adaptive', minSize: 2, maxSize: 50 })
 * policy.observe(pool.getPoolMetrics()) // every sampleIntervalMillis
 * const decision = policy.evaluate({ size: pool.getPoolMetrics().maxSize }) // every evaluationIntervalMillis
 */
export class AdaptivePolicy implements ScalingPolicy {
  readonly kind = 'adaptive'
  readonly config: Readonly<ResolvedAdaptiveConfig>
  readonly minSize: number
  readonly maxSize: number
  readonly evaluationIntervalMillis: number
  readonly sampleIntervalMillis: number
  readonly #clock: Clock
  readonly #window = new SampleWindow()
  #pending: PendingStep | undefined
  // How the last growth step paid: 'leap' lets the next go straight to the target, 'climb' by half a probe.
  #momentum: 'probe' | 'climb' | 'leap' = 'probe'
  #knee: { size: number; until: number } | undefined
  #targets: { at: number; target: number }[] = []
  #firstAt: number | undefined
  #lastGrowAt = -Infinity
  // A sample showed a full pool with a queue as deep as the pool: evaluate now rather than at the window's end.
  #urgent = false
  #calmUntil = -Infinity

  /**
   * @param where - who takes the config, named in error messages
   * @throws {InvalidOptionError} naming the bad field
   */
  constructor(config: AdaptivePoolConfig, options: PolicyOptions = {}, where = 'AdaptivePolicy') {
    this.config = Object.freeze(resolveAdaptiveConfig(config, where))
    this.minSize = this.config.minSize
    this.maxSize = this.config.maxSize
    this.evaluationIntervalMillis = this.config.evaluationIntervalMillis
    this.sampleIntervalMillis = this.config.sampleIntervalMillis
    this.#clock = options.clock ?? systemClock
  }

  /** The size found as the knee, while it caps growth. */
  get knee(): number | undefined {
    return this.#knee !== undefined && this.#clock.now() < this.#knee.until ? this.#knee.size : undefined
  }

  observe(sample: PoolSample): void {
    const now = this.#clock.now()
    this.#window.add(now, sample)
    if (this.#urgent || this.#pending !== undefined || now < this.#calmUntil || !this.config.enabled) return
    const size = sample.maxSize
    const capped = size >= this.maxSize || (this.#knee !== undefined && now < this.#knee.until && size >= this.#knee.size)
    this.#urgent = !capped && sample.waitingRequests >= size && sample.activeConnections >= 0.9 * size && this.#window.checkouts >= this.config.minSamples
  }

  /**
   * When the next evaluation is due: at once after a sample showed a burst (a full pool with a queue as
   * deep as the pool), half a window apart while a growth step is being judged, else every
   * `evaluationIntervalMillis`.
   */
  dueInMillis(): number {
    if (this.#urgent) return 0
    if (this.#pending !== undefined) return Math.max(this.sampleIntervalMillis, Math.round(this.evaluationIntervalMillis / 2))
    return this.evaluationIntervalMillis
  }

  evaluate(input: EvaluationInput): ScalingDecision | undefined {
    const now = this.#clock.now()
    const window = this.#window.close()
    const urgent = this.#urgent
    this.#urgent = false
    const decision = this.#decide(input, window, now, urgent)
    // An early evaluation that changed nothing (a budget or a knee holds the size) waits for the next regular one.
    if (urgent && decision === undefined) this.#calmUntil = now + this.evaluationIntervalMillis
    return decision
  }

  #decide(input: EvaluationInput, window: WindowStats | undefined, now: number, urgent: boolean): ScalingDecision | undefined {
    if (!this.config.enabled) return undefined
    const { size, budgetLimit } = input
    const outside = enforceBounds(size, this.minSize, this.maxSize, budgetLimit)
    if (outside !== undefined) {
      this.#pending = undefined
      return outside
    }
    if (window === undefined) return undefined
    this.#firstAt ??= now
    const measure = this.#measure(window, urgent)

    if (this.#pending !== undefined) {
      const verdict = this.#judge(this.#pending, window, measure, size, now)
      if (verdict !== 'continue') return verdict === 'settling' ? undefined : verdict
    }
    this.#remember(now, measure.target)

    // An early evaluation comes right after a burst began: the window is mostly the calm before it, so the
    // last sample (a full pool, a queue as deep as the pool) speaks for it.
    const burst = urgent && window.lastActive >= 0.9 * size && window.lastWaiting >= size
    const saturated = burst || window.meanActive >= 0.9 * size
    const waiting = burst || (measure.enough ? measure.meanWaitMillis >= this.config.waitThresholdMillis : window.meanWaiting >= 1)
    if (waiting && saturated) return this.#grow(window, measure, size, now, upperBound(this.minSize, this.maxSize, budgetLimit))
    return this.#shrink(measure, size, now)
  }

  #measure(window: WindowStats, urgent: boolean): Measure {
    const enough = window.checkoutsPerSecond > 0 && window.checkouts >= this.config.minSamples && window.elapsedMillis > 0
    let demand = enough
      ? (window.checkoutsPerSecond * (window.meanUseMillis + window.meanWaitMillis)) / 1000
      : window.meanActive + window.meanWaiting
    if (urgent) demand = Math.max(demand, window.lastActive + window.lastWaiting)
    return {
      enough,
      checkoutsPerSecond: window.checkoutsPerSecond,
      meanUseMillis: window.meanUseMillis,
      meanWaitMillis: window.meanWaitMillis,
      demand,
      target: Math.ceil(demand * this.config.headroom - 1e-9),
    }
  }

  /** Judges the last growth step: `continue` (it paid, or proved nothing), `settling`, or a knee decision. */
  #judge(step: PendingStep, window: WindowStats, measure: Measure, size: number, now: number): ScalingDecision | 'settling' | 'continue' {
    // Connections being opened are counted in the pool's total but serve nobody yet.
    const opening = window.lastActive + window.lastIdle < step.to && window.lastWaiting > 0
    if ((!step.opened || opening || !measure.enough) && step.windows < maxSettleWindows) {
      step.windows++
      if (!opening) step.opened = true
      return 'settling'
    }
    this.#pending = undefined
    if (!measure.enough || size !== step.to) return 'continue'
    const growth = window.meanActive / step.meanActive
    if (growth < minJudgedGrowth) return 'continue'
    const gain = measure.checkoutsPerSecond / step.checkoutsPerSecond
    const efficiency = (gain - 1) / (growth - 1)
    if (efficiency >= this.config.leapEfficiency) {
      this.#momentum = 'leap'
      return 'continue'
    }
    if (efficiency >= this.config.kneeEfficiency) {
      this.#momentum = 'climb'
      return 'continue'
    }
    // The connections that carry today's throughput at the use time measured before the step.
    const carried = (measure.checkoutsPerSecond * step.meanUseMillis) / 1000
    const knee = Math.min(size - 1, Math.max(step.from, this.minSize, Math.ceil(carried * this.config.headroom - 1e-9)))
    this.#knee = { size: knee, until: now + this.config.kneeHoldMillis }
    this.#momentum = 'probe'
    return {
      size: knee,
      reason: 'autoscale:adaptive-knee',
      details: rounded({
        efficiency,
        throughputGain: gain,
        connectionGrowth: growth,
        useTimeRatio: step.meanUseMillis > 0 ? measure.meanUseMillis / step.meanUseMillis : 0,
        checkoutsPerSecond: measure.checkoutsPerSecond,
        meanUseMillis: measure.meanUseMillis,
        previousMeanUseMillis: step.meanUseMillis,
        kneeHoldMillis: this.config.kneeHoldMillis,
      }),
    }
  }

  #grow(window: WindowStats, measure: Measure, size: number, now: number, upper: number): ScalingDecision | undefined {
    let cap = upper
    if (this.#knee !== undefined) {
      if (now < this.#knee.until) cap = Math.min(cap, Math.max(this.#knee.size, size))
      else this.#knee = undefined
    }
    const desired = Math.min(cap, Math.max(measure.target, size + 1))
    if (desired <= size) return undefined
    const factor = this.#momentum === 'climb' ? 1 + (this.config.probeFactor - 1) / 2 : this.config.probeFactor
    const probe = Math.max(size + 1, Math.ceil(size * factor - 1e-9))
    const next = this.#momentum === 'leap' ? desired : Math.min(desired, probe)
    // Judged against this window: at a burst's start it mixes the calm before with the first moments of the
    // queue; its rate and occupancy still belong together, and a step it misjudges is undone one window later.
    this.#pending = measure.enough && window.meanActive > 0
      ? { from: size, to: next, checkoutsPerSecond: measure.checkoutsPerSecond, meanUseMillis: measure.meanUseMillis, meanActive: window.meanActive, windows: 0, opened: false }
      : undefined
    const reason = this.#momentum === 'leap' ? 'autoscale:adaptive-grow' : 'autoscale:adaptive-probe'
    this.#momentum = 'probe'
    this.#lastGrowAt = now
    return {
      size: next,
      reason,
      details: rounded({
        demand: measure.demand,
        target: measure.target,
        checkoutsPerSecond: measure.checkoutsPerSecond,
        meanUseMillis: measure.meanUseMillis,
        meanWaitMillis: measure.meanWaitMillis,
        meanWaiting: window.meanWaiting,
        ...(next === upper && upper < this.maxSize ? { budgetLimit: upper } : {}),
      }),
    }
  }

  #shrink(measure: Measure, size: number, now: number): ScalingDecision | undefined {
    const delay = this.config.scaleDownDelayMillis
    if (now - (this.#firstAt ?? now) < delay || now - this.#lastGrowAt < this.config.cooldownMillis) return undefined
    let peak = 0
    for (const entry of this.#targets) peak = Math.max(peak, entry.target)
    const next = Math.max(this.minSize, peak)
    if (next >= size || next > size * (1 - this.config.hysteresis)) return undefined
    this.#momentum = 'probe'
    return {
      size: next,
      reason: 'autoscale:adaptive-shrink',
      details: rounded({
        peakTarget: peak,
        demand: measure.demand,
        checkoutsPerSecond: measure.checkoutsPerSecond,
        meanUseMillis: measure.meanUseMillis,
        scaleDownDelayMillis: delay,
      }),
    }
  }

  #remember(now: number, target: number): void {
    // An entry is stamped with the end of its window: one stamped at the horizon saw nothing newer than it.
    const horizon = now - this.config.scaleDownDelayMillis
    let drop = 0
    while (drop < this.#targets.length && (this.#targets[drop] as { at: number }).at <= horizon) drop++
    if (drop > 0) this.#targets.splice(0, drop)
    this.#targets.push({ at: now, target })
  }
}
