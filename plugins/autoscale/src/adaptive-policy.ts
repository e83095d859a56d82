import { systemClock, type Clock } from '@lifeguard/core/adapter'
import { resolveAdaptiveConfig, type AdaptivePoolConfig, type ResolvedAdaptiveConfig } from './adaptive-config.js'
import type { Observed } from './internal/aggregate.js'
import { enforceBounds, rounded, upperBound } from './internal/bounds.js'
import { KneeHold } from './internal/knee-hold.js'
import { LoadLevel } from './internal/load-level.js'
import { PeakTargets } from './internal/peak-targets.js'
import { SampleWindow, type WindowStats } from './internal/sample-window.js'
import { checkOnceFromAbove, setCheckFromAbove, stepDown } from './internal/step-down.js'
import { initialStepState, leaps, type StepContext, type StepState } from './internal/step-state.js'
import { settleMillis, StepTrial } from './internal/step-trial.js'
import { concludeTrial } from './internal/trial-conclusion.js'
import { windowDemand, type Demand } from './internal/window-demand.js'
import type { EvaluationInput, PoolSample, ScalingDecision, ScalingPolicy } from './scaling-policy.js'
import type { PolicyOptions } from './threshold-policy.js'

// A use time up by this much at the size the last grow reached marks windows still carrying its cost.
const unsettledUseRatio = 1.25
// A calm that kept at most this share of the pool busy: a burst that fills the pool is a step of its own.
const calmShare = 0.9
// How long after the last window with connections being opened the database still pays for them:
// measured on 2 cores, PostgreSQL's freshly forked backends served at 40% to 60% for 300 to 400 ms.
const warmingMillis = 400

/**
 * Sizes a pool from what it measures. Each window (the samples between two evaluations) gives the
 * checkout rate and the mean use and wait times; Little's law turns them into the connections the load
 * asks for: `demand = rate x (use + wait)`, and `target = demand x headroom`.
 *
 * - **Grow** when checkouts wait and the pool is full: a first step multiplies the size by `probeFactor`,
 *   and each step is a trial judged against the windows before it. New connections that did as much
 *   work as the old ones (`leapEfficiency`) let the next step go to the target (at most two probes at
 *   once, or every request waiting after a burst's own step that paid in full); a partial gain climbs by
 *   half a probe. No verdict rests on one window. Into a queue as deep
 *   as the pool, a leap is taken at the sample that shows it (the window still open is its second).
 *   A burst into a pool the calm before it left partly idle (a tenth at least) is first judged at the
 *   size it found: filling the idle connections is a step that opens none, and no gain sends the pool one
 *   step down from it (see below). Its small growth magnifies the noise: it climbs only at three times
 *   the knee's bar, as a probe above a knee does.
 * - **Brake at the knee** only on evidence: a step that did not pay over `kneeWindows` windows, while the
 *   database's share of the use time (use time less this process's event-loop delay) rose with the
 *   connections (at least a quarter as fast, in log terms). When it did not, or checkouts waited while
 *   connections sat idle, it is this process that cannot keep up: the step is kept but growth holds.
 *   A knee caps growth for `reprobeMillis`, doubling up to `kneeHoldMillis` each time a probe finds it
 *   again, so the policy keeps probing while requests wait. A probe above a knee climbs on a partial
 *   gain only at three times the knee's bar; one that does not pay finds the same knee again. A knee
 *   found by a burst's own step, or by the step right after a burst's first step (the one judged
 *   against the calm before the burst), sends the pool one step down from the knee, once per burst, to
 *   check that size from below (after the own step, to the connections the calm kept busy). A check whose
 *   connections did nothing is kept, and ends there: past a knee, a further step down would be judged on noise.
 *   One whose connections carried their full share below a knee the own step found refutes that knee
 *   (the own step compares the burst with the calm before it, another load): half a probe follows at once.
 * - **Follow a load that changes**: at one size, a use time that rises by half (the queries got
 *   heavier, unless this process's event-loop delay makes up half the rise: the machine is slow) starts steps down, each followed by another only if the connections it took away did
 *   nothing (below `kneeEfficiency`); one whose connections carried a little is kept and ends the
 *   descent (small losses must not add up step by step); a step down that cost the removed connections
 *   nearly their full share (0.85 of it, and at least `leapEfficiency`) goes back and on to the target, as
 *   after a leap (no knee is near); one that cost at least `leapEfficiency` of it, less than that, goes back
 *   and climbs half a probe (at a knee a step down by half still costs a good part). No leap either
 *   when steps down were kept before it, or a knee was found right above (the knee is then between
 *   the two sizes: it holds there). At a knee that holds, heavier must hold twice as long, and still show
 *   in every window up to the step down; a step down from there that serves a tenth more than the slow
 *   windows, and at least a third of what the knee served before, measured a slowdown ending, and goes
 *   back to the knee. A use time that falls by a third ends the knee's hold. Back at a size after an
 *   undone step, the use time is also compared with what it was there before that step (the first
 *   windows back still carry the step's cost). No shift is read from windows in which connections
 *   were being opened, or from those of the next 400 ms (their backends start slowly).
 * - **Check a hasty step from above**: a step up taken within 1.5 s of the grow before it, from windows
 *   whose use time rose by a quarter since before the run of such quick steps began, was judged against a database still paying for that
 *   grow's connections: it can read as a gain past the knee. When it is kept (it paid, or this process
 *   was too busy to tell), one step down follows once the pool has settled at the new size (full,
 *   requests waiting or not, `kneeWindows` windows after its new connections warmed up): undone if the
 *   connections it took away carried their share, the start of a descent if they did nothing.
 * - **Check a leap from above**: a step of more than one probe that paid only in part, or that no window
 *   at the size it left could judge (its verdict came while its connections opened), may owe its gain to
 *   its first connections alone. It gets the same one step down once settled, and that check ends there:
 *   undone if the connections it took away carried their share, kept (a knee) if not, never a descent.
 *   A surge that paid in part is checked the same way, but its step down goes to where its gain puts the
 *   knee (its start x its gain, half a probe above), however far below that is.
 * - **Shrink** when connections sit idle: to the highest target of the last `scaleDownDelayMillis`, only
 *   when that is `hysteresis` below the size and `cooldownMillis` after the last growth.
 *
 * @example
 * const policy = new AdaptivePolicy({ policy: 'adaptive', minSize: 2, maxSize: 50 })
 * policy.observe(pool.getPoolMetrics()) // every sampleIntervalMillis
 * const decision = policy.evaluate({ size: pool.getPoolMetrics().maxSize }) // every evaluationIntervalMillis
 */
export class AdaptivePolicy implements ScalingPolicy {
  /** Always `'adaptive'`. */
  readonly kind = 'adaptive'
  /** The config it was built with, defaults filled in, frozen. */
  readonly config: Readonly<ResolvedAdaptiveConfig>
  /** Lowest `maxSize` it sets (`config.minSize`). */
  readonly minSize: number
  /** Highest `maxSize` it sets (`config.maxSize`). */
  readonly maxSize: number
  /** Regular time between evaluations (ms), one measurement window; `dueInMillis()` may ask sooner. */
  readonly evaluationIntervalMillis: number
  /** Time between samples (ms): `config.sampleIntervalMillis`. */
  readonly sampleIntervalMillis: number
  readonly #clock: Pick<Clock, 'now'>
  readonly #window = new SampleWindow()
  readonly #knee: KneeHold
  // Windows measured at the current size after it settled.
  readonly #level = new LoadLevel()
  // The step under trial and what the steps before it found, shared with `concludeTrial` and `stepDown`.
  readonly #steps: StepState = initialStepState()
  // What those read besides it: the config, the knee and the windows.
  readonly #context: StepContext
  #skipNext = false
  #pressed = false
  // The last step up was taken with a queue as deep as the pool.
  #queued = false
  readonly #targets: PeakTargets
  #firstAt: number | undefined
  #lastGrowAt = -Infinity
  // The last window in which connections were being opened (see `warmingMillis`).
  #openingAt = -Infinity
  // The use time measured before the last run of quick grows (see `#grow`).
  #useBeforeGrowMillis = Infinity
  // A sample showed a full pool with a queue as deep as the pool, or a leap into such a queue: evaluate
  // now rather than at the window's end.
  #urgent = false
  #calmUntil = -Infinity

  /** @throws {InvalidOptionError} naming the bad field (`where` says who took the config) */
  constructor(config: AdaptivePoolConfig, options: PolicyOptions = {}, where = 'AdaptivePolicy') {
    this.config = Object.freeze(resolveAdaptiveConfig(config, where))
    this.minSize = this.config.minSize
    this.maxSize = this.config.maxSize
    this.evaluationIntervalMillis = this.config.evaluationIntervalMillis
    this.sampleIntervalMillis = this.config.sampleIntervalMillis
    this.#clock = options.clock ?? systemClock
    this.#knee = new KneeHold(this.config.reprobeMillis, this.config.kneeHoldMillis)
    this.#targets = new PeakTargets(this.config.scaleDownDelayMillis)
    this.#context = { rules: this.config, knee: this.#knee, level: this.#level }
  }

  /** The size found as the knee, while it caps growth. */
  get knee(): number | undefined {
    return this.#knee.at(this.#clock.now())
  }

  /** Records one sample in the current window; one that shows a burst makes the next evaluation due at once. */
  observe(sample: PoolSample): void {
    const now = this.#clock.now()
    this.#window.add(now, sample)
    // Into a queue as deep as the pool, every moment at the old size costs each waiting request: a step
    // that already leaps on the samples so far is judged now, not at the window's end. (A leap does not
    // read the event-loop delay, which is measured per evaluation.)
    if (this.#queued && this.#steps.trial !== undefined && !this.#urgent) {
      const current = this.#window.peek()
      this.#urgent = current !== undefined && this.#steps.trial.leapsWith({ stats: current, loopDelayMillis: 0 }, this.config)
    }
    // Urgency is for the first moment of a burst; once requests wait, evaluations come half a window apart.
    if (this.#urgent || this.#pressed || this.#steps.trial !== undefined || now < this.#calmUntil || !this.config.enabled) return
    const size = sample.maxSize
    const knee = this.#knee.at(now)
    const capped = size >= this.maxSize || (knee !== undefined && size >= knee)
    this.#urgent = !capped && sample.waitingRequests >= size && sample.activeConnections >= 0.9 * size && this.#window.checkouts >= this.config.minSamples
  }

  /**
   * When the next evaluation is due: at once after a sample showed a burst (a full pool with a queue as
   * deep as the pool) or that a step taken into such a queue leaps, half a window apart while a step is
   * judged or requests wait, else every `evaluationIntervalMillis`.
   */
  dueInMillis(): number {
    if (this.#urgent) return 0
    if (this.#steps.trial !== undefined || this.#pressed) return Math.max(this.sampleIntervalMillis, Math.round(this.evaluationIntervalMillis / 2))
    return this.evaluationIntervalMillis
  }

  /**
   * Closes the window and decides as the class comment describes (a size outside the bounds or the budget
   * is moved back first); `undefined` leaves the size alone, as does a disabled config.
   */
  evaluate(input: EvaluationInput): ScalingDecision | undefined {
    const now = this.#clock.now()
    const window = this.#window.close()
    const urgent = this.#urgent
    this.#urgent = false
    const decision = this.#decide(input, window, now, urgent)
    // An early evaluation that changed nothing (a budget or a knee holds the size) waits for the next regular one.
    if (urgent && decision === undefined) this.#calmUntil = now + this.evaluationIntervalMillis
    if (decision === undefined) return undefined
    this.#skipNext = true
    // Connections a step down or a shrink leaves over stay open for the next grow, unless the budget or
    // the bounds took them away: opening and closing them costs the database more than keeping them.
    const forced = decision.reason === 'autoscale:budget' || decision.reason === 'autoscale:bounds'
    if (!forced && this.config.keepSurplusMillis > 0) decision.keepSurplusMillis = this.config.keepSurplusMillis
    return decision
  }

  #decide(input: EvaluationInput, window: WindowStats | undefined, now: number, urgent: boolean): ScalingDecision | undefined {
    if (!this.config.enabled) return undefined
    const { size, budgetLimit } = input
    const outside = enforceBounds(size, this.minSize, this.maxSize, budgetLimit)
    if (outside !== undefined) {
      this.#steps.trial = undefined
      // (A surge's check target is for the size the surge reached, not the one the bounds or the budget set.)
      this.#steps.checkDownTo = undefined
      return outside
    }
    if (window === undefined) return undefined
    this.#firstAt ??= now
    this.#track(size, { stats: window, loopDelayMillis: input.eventLoopDelayMillis ?? 0, loopUtilization: input.eventLoopUtilization })
    // Windows that carry the cost of new connections read as heavier queries, or make a step down
    // look free: no load shift is read from them, and no check from above is judged on them (see `warmingMillis`).
    if (window.meanOpening > 0) this.#openingAt = now
    if (now - this.#openingAt < warmingMillis) this.#level.warming()
    const demand = windowDemand(window, urgent, this.config)

    const trial = this.#steps.trial
    // Remembered while a step is judged too: a shrink right after a trial must see the demand during it.
    this.#targets.remember(now, demand.target)
    if (trial !== undefined) {
      const verdict = trial.judge(this.config)
      if (verdict.kind === 'wait' && trial.span < 2 * this.config.kneeWindows) return undefined
      this.#steps.trial = undefined
      const decision = concludeTrial(this.#steps, trial, verdict, now, this.#context)
      if (decision !== undefined) return decision
    }

    // An early evaluation comes right after a burst began: the window is mostly the calm before it, so the
    // last sample (a full pool, a queue as deep as the pool) speaks for it.
    const burst = urgent && window.lastActive >= 0.9 * size && window.lastWaiting >= size
    const saturated = burst || window.meanActive >= 0.9 * size
    const waiting = burst || (demand.enough ? window.meanWaitMillis >= this.config.waitThresholdMillis : window.meanWaiting >= 1)
    // While a trial runs, `#pressed` keeps what the last full evaluation saw.
    this.#pressed = waiting && saturated
    if (burst && this.#measureBurst(size, now, upperBound(this.minSize, this.maxSize, budgetLimit))) return undefined
    if (this.#steps.checkFromAbove && saturated && this.#level.afterWarming().length >= this.config.kneeWindows) {
      const downTo = this.#steps.checkDownTo
      setCheckFromAbove(this.#steps, false)
      const down = stepDown(this.#steps, size, this.#context, downTo)
      if (down !== undefined) return down
    }
    if (!this.#pressed) {
      this.#steps.descending = false
      this.#steps.heavier = undefined
      this.#forgetBurst()
      return this.#shrink(window, demand, size, now)
    }
    // At a knee that holds, heavier must hold twice as long: a hiccup of the saturated database would
    // otherwise undo what finding the knee cost (measured on 2 cores: a step from a checked knee of 4 down
    // to 2 served a quarter less for 2.3 s). A longer one is checked at the step down (see `stepDown`
    // and `slowdownEnded`).
    const atKnee = this.#knee.at(now) === size
    const shift = this.#level.shift(size, { confirmHeavier: atKnee })
    // A knee found under another load says nothing about this one. Heavier queries usually saturate the
    // database sooner: try fewer connections first (a step that hurts is undone).
    if (shift?.direction === 'heavier') {
      this.#steps.heavier = shift
      this.#steps.heavierAtKnee = atKnee
      // (A knee holds until the step down from it: the windows before that may show a slowdown that ended.)
      if (!atKnee || size <= this.minSize) this.#knee.clear()
      setCheckFromAbove(this.#steps, false)
      this.#steps.checkedKnee = undefined
      this.#steps.descending = true
      this.#steps.idleAbove = 0
      this.#forgetBurst()
    }
    if (shift?.direction === 'lighter') this.#knee.loadLightened(now) // probe above the knee now, judged as such a probe
    if (shift !== undefined) this.#steps.momentum = 'climb'
    if (this.#steps.descending) {
      const down = stepDown(this.#steps, size, this.#context)
      if (down !== undefined || this.#level.windows.length < 2) return down
    }
    return this.#grow(window, demand, size, now, upperBound(this.minSize, this.maxSize, budgetLimit), burst)
  }

  // Keeps the windows measured at the current size; a new size starts afresh (its first window is blurred).
  #track(size: number, observed: Observed): void {
    if (this.#level.resize(size) && this.#steps.trial !== undefined && this.#steps.trial.to !== size) this.#steps.trial = undefined
    const counts = this.#steps.trial !== undefined ? this.#steps.trial.add(observed) : !this.#skipNext
    this.#skipNext = false
    if (counts) this.#level.add(observed)
  }

  /**
   * A burst into a pool the calm before it left partly idle fills the idle connections first: a step up
   * that opens nothing, judged like any other against the calm's windows. Opening connections costs a
   * database at its knee CPU it has no spare of (measured: a first step from 7 to 14 connections on 2
   * cores cut the throughput by a third for half a second, and held the burst's slowest queries), so the
   * pool grows only once the connections it has paid.
   */
  #measureBurst(size: number, now: number, upper: number): boolean {
    const knee = this.#knee.at(now)
    if (this.#steps.burstReached !== undefined || size >= upper || (knee !== undefined && size >= knee)) return false
    // (Too few windows or checkouts, or none busy when sampled, would make the growth noise or infinite.)
    const calm = this.#level.before(this.config.kneeWindows)
    const judged = calm !== undefined && calm.windows >= Math.min(2, this.config.kneeWindows) && calm.checkouts >= this.config.minSamples
    if (!judged || !(calm.meanActive > 0) || calm.meanActive > calmShare * size) return false
    // The windows from here measure the burst at this size (the latest one is mostly calm).
    this.#level.restart()
    this.#steps.trial = new StepTrial('up', size, size, calm)
    this.#steps.burstReached = size
    this.#endSurge()
    this.#queued = true
    return true
  }

  #forgetBurst(): void {
    this.#steps.burstReached = undefined
    this.#steps.burstChecked = false
    this.#endSurge()
  }

  // A surge answers the queue of the burst whose own step earned it, and no later one: it falls back to a leap.
  #endSurge(): void {
    if (this.#steps.momentum === 'surge') this.#steps.momentum = 'leap'
  }

  #grow(window: WindowStats, demand: Demand, size: number, now: number, upper: number, burst: boolean): ScalingDecision | undefined {
    const knee = this.#knee.at(now)
    const cap = knee === undefined ? upper : Math.min(upper, Math.max(knee, size))
    const desired = Math.min(cap, Math.max(demand.target, size + 1))
    if (desired <= size) return undefined
    // A step is judged against the windows before it: take it once there are two, unless it goes to the target.
    const momentum = this.#steps.momentum
    const leaping = momentum === 'leap' || momentum === 'surge'
    if (!leaping && !burst && this.#level.windows.length < Math.min(2, this.config.kneeWindows)) return undefined
    // A leap goes to the target, but no further than two probes at once: connections opened on a busy
    // database are slow, and a leap misjudged from a noisy window is undone by the next trial.
    const factor = momentum === 'climb' ? 1 + (this.config.probeFactor - 1) / 2 : leaping ? this.config.probeFactor ** 2 : this.config.probeFactor
    // After a step whose connections carried nearly their full share, the requests waiting are demand now,
    // not a projection: one step serves them all (measured: two leaps, 7 -> 28 -> 95, held a wait-bound
    // burst's first 0.2 s below its rate and set its p99).
    const waitingDemand = momentum === 'surge' ? window.lastActive + window.lastWaiting : 0
    const next = Math.min(desired, Math.max(size + 1, Math.ceil(size * factor - 1e-9), waitingDemand))
    // At a burst's start the baseline mixes the calm before with the first moments of the queue; its rate
    // and occupancy still belong together, and a step it misjudges is undone one trial later.
    const baseline = this.#level.recent(this.config.kneeWindows)
    // A knee held before (its hold over, not forgotten): this step is a probe above it.
    const reprobe = knee === undefined && this.#knee.holdMillis > 0
    // Right after the last grow, a use time up by a quarter on the size before it: the database may still
    // be paying for that grow's connections, and this step's gain is measured against that cost.
    const quick = now - this.#lastGrowAt < settleMillis
    const hasty = baseline !== undefined && quick && baseline.meanUseMillis >= unsettledUseRatio * this.#useBeforeGrowMillis
    const surge = next > Math.ceil(size * factor - 1e-9)
    this.#steps.trial = baseline !== undefined && baseline.meanActive > 0 ? new StepTrial('up', size, next, baseline, { patient: reprobe, hasty, surge }) : undefined
    // In a run of quick steps every size's windows may carry the cost of the step before: compare with the lowest.
    const useMillis = baseline?.meanUseMillis ?? Infinity
    this.#useBeforeGrowMillis = quick ? Math.min(this.#useBeforeGrowMillis, useMillis) : useMillis
    setCheckFromAbove(this.#steps, false)
    const reason = leaping ? 'autoscale:adaptive-grow' : 'autoscale:adaptive-probe'
    this.#steps.momentum = 'probe'
    this.#steps.descending = false
    this.#steps.heavier = undefined
    this.#steps.idleAbove = 0
    this.#lastGrowAt = now
    this.#queued = burst || window.meanWaiting >= size
    // (A leap into a deep queue is evaluated urgently too: only the first step of a burst is recorded.)
    if (burst) this.#steps.burstReached ??= next
    this.#steps.checkedKnee = undefined
    // A leap taken before any window measured this size (a step whose verdict came while its connections
    // opened) has nothing to be judged against: it is checked as a leap that paid only in part is.
    if (this.#steps.trial === undefined && leaps(size, next, this.config.probeFactor)) checkOnceFromAbove(this.#steps, next)
    return {
      size: next,
      reason,
      details: rounded({
        demand: demand.demand,
        target: demand.target,
        checkoutsPerSecond: window.checkoutsPerSecond,
        meanUseMillis: window.meanUseMillis,
        meanWaitMillis: window.meanWaitMillis,
        meanWaiting: window.meanWaiting,
        ...(next === upper && upper < this.maxSize ? { budgetLimit: upper } : {}),
      }),
    }
  }

  #shrink(window: WindowStats, demand: Demand, size: number, now: number): ScalingDecision | undefined {
    const delay = this.config.scaleDownDelayMillis
    if (now - (this.#firstAt ?? now) < delay || now - this.#lastGrowAt < this.config.cooldownMillis) return undefined
    // Requests queued at the last sample: no time to shrink, whatever the rates say.
    if (window.lastWaiting > 0) return undefined
    // No evidence for a shrink either in a window one of whose samples came seconds late (an event loop that
    // stalled, a clock that jumped: a machine resumed): its checkouts are spread over time nobody used, and the
    // demand read from it is near 0 while every connection is busy.
    if (window.stalled) return undefined
    const peak = this.#targets.peak
    // Nor below what the window saw in use.
    const inUse = Math.max(Math.ceil(window.meanActive), window.lastActive)
    const next = Math.max(this.minSize, peak, inUse)
    if (next >= size || next > size * (1 - this.config.hysteresis)) return undefined
    this.#steps.momentum = 'probe'
    setCheckFromAbove(this.#steps, false)
    this.#steps.checkedKnee = undefined
    return {
      size: next,
      reason: 'autoscale:adaptive-shrink',
      details: rounded({ peakTarget: peak, demand: demand.demand, checkoutsPerSecond: window.checkoutsPerSecond, meanUseMillis: window.meanUseMillis, scaleDownDelayMillis: delay }),
    }
  }
}

