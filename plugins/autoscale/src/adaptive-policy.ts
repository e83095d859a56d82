import { systemClock, type Clock } from '@lifeguard/core/adapter'
import { resolveAdaptiveConfig, type AdaptivePoolConfig, type ResolvedAdaptiveConfig } from './adaptive-config.js'
import type { Observed } from './internal/aggregate.js'
import { enforceBounds, rounded, upperBound } from './internal/bounds.js'
import { KneeHold } from './internal/knee-hold.js'
import { LoadLevel, type LoadShift } from './internal/load-level.js'
import { PeakTargets } from './internal/peak-targets.js'
import { SampleWindow, type WindowStats } from './internal/sample-window.js'
import { settleMillis, StepTrial, type Verdict } from './internal/step-trial.js'
import type { EvaluationInput, PoolSample, ScalingDecision, ScalingPolicy } from './scaling-policy.js'
import type { PolicyOptions } from './threshold-policy.js'

// A use time up by this much at the size the last grow reached marks windows still carrying its cost.
const unsettledUseRatio = 1.25
// A calm that kept at most this share of the pool busy: a burst that fills the pool is a step of its own.
const calmShare = 0.9
// At a knee, filling idle connections leaves the throughput flat. Below this share of the calm's with none
// opened, the database slowed for another reason: the burst's own step proves nothing, and a probe follows.
const burstKneeGain = 0.8
// A step down from a knee that a heavier reading started, whose last windows then served this much more
// than the slow ones before them: the load changed back (see `#slowdownEnded`).
const slowdownEndedGain = 1.1
// ... and served at least this share of what the knee served before the reading. Queries that stay several
// times heavier (they burn CPU where they used to wait) can be served better by fewer connections, as the
// database spends less on contention: the step down then gains too, but serves a fraction of what the knee
// did (in the model, a sixth), and it is no slowdown ending. A slowdown that ends within the step's windows
// keeps half of the knee's rate or more.
const slowdownEndedShare = 1 / 3
// How long after the last window with connections being opened the database still pays for them:
// measured on 2 cores, PostgreSQL's freshly forked backends served at 40% to 60% for 300 to 400 ms.
const warmingMillis = 400

/** What one window measured for Little's law. */
interface Demand {
  /** The window had `minSamples` checkouts: its rate and times count. */
  enough: boolean
  /** Connections the load asks for (Little's law, or the sampled occupancy in a near-empty window). */
  demand: number
  /** `demand` with headroom, rounded up. */
  target: number
}

/**
 * Sizes a pool from what it measures. Each window (the samples between two evaluations) gives the
 * checkout rate and the mean use and wait times; Little's law turns them into the connections the load
 * asks for: `demand = rate x (use + wait)`, and `target = demand x headroom`.
 *
 * - **Grow** when checkouts wait and the pool is full: a first step multiplies the size by `probeFactor`,
 *   and each step is a trial judged against the windows before it. New connections that did as much
 *   work as the old ones (`leapEfficiency`) let the next step go to the target (at most two probes at
 *   once); a partial gain climbs by half a probe. No verdict rests on one window. Into a queue as deep
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
 *   check that size from below. A check whose
 *   connections did nothing is kept, and ends there: past a knee, a further step down would be judged on noise.
 *   One whose connections carried their full share below a knee the own step found refutes that knee
 *   (the own step's small growth magnifies noise more): half a probe follows at once.
 * - **Follow a load that changes**: at one size, a use time that rises by half (the queries got
 *   heavier) starts steps down, each followed by another only if the connections it took away did
 *   nothing (below `kneeEfficiency`); one whose connections carried a little is kept and ends the
 *   descent (small losses must not add up step by step); a step down that cost the removed connections'
 *   full share (`leapEfficiency`) goes back and on to the target, as after a leap (no knee is near),
 *   unless steps down were kept before it, or a knee was found right above (the knee is then between
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
  #trial: StepTrial | undefined
  // How the last growth step paid: 'leap' lets the next go straight to the target, 'climb' by half a probe.
  #momentum: 'probe' | 'climb' | 'leap' = 'probe'
  // Windows measured at the current size after it settled.
  readonly #level = new LoadLevel()
  #skipNext = false
  // The last step down cost nothing: the next full evaluation tries another.
  #descending = false
  // The heavier load that started the descent under way, until its first step is taken, and whether it
  // was read at a knee that held.
  #heavier: LoadShift | undefined
  #heavierAtKnee = false
  // The step down such a reading at a knee started, and the use time and rate before the reading (see `#slowdownEnded`).
  #kneeSlowdown: { trial: StepTrial; useMillis: number; checkoutsPerSecond: number } | undefined
  // A hasty step up paid: check it with one step down once settled (see the class comment).
  #checkFromAbove = false
  // Times connections above the current size were found idle since the pool last grew or the load got
  // heavier: steps down kept, or a knee found right above it.
  #idleAbove = 0
  // The size a burst's first step reached (its own step: the size the calm left; see the 'knee' verdict).
  // Forgotten when a window shows no pressure or a heavier load; `#burstChecked` once a step down checked it.
  #burstReached: number | undefined
  #burstChecked = false
  // The knee whose size the step down under way checks from below (see the 'keep' and 'restore' verdicts).
  #checkedKnee: number | undefined
  // That knee was found by a burst's own step (a check that refutes it, see 'restore').
  #checkingOwnStep = false
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
    if (this.#queued && this.#trial !== undefined && !this.#urgent) {
      const current = this.#window.peek()
      this.#urgent = current !== undefined && this.#trial.leapsWith({ stats: current, loopDelayMillis: 0 }, this.config)
    }
    // Urgency is for the first moment of a burst; once requests wait, evaluations come half a window apart.
    if (this.#urgent || this.#pressed || this.#trial !== undefined || now < this.#calmUntil || !this.config.enabled) return
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
    if (this.#trial !== undefined || this.#pressed) return Math.max(this.sampleIntervalMillis, Math.round(this.evaluationIntervalMillis / 2))
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
      this.#trial = undefined
      return outside
    }
    if (window === undefined) return undefined
    this.#firstAt ??= now
    this.#track(size, { stats: window, loopDelayMillis: input.eventLoopDelayMillis ?? 0, loopUtilization: input.eventLoopUtilization })
    // Windows that carry the cost of new connections read as heavier queries, or make a step down
    // look free: no load shift is read from them, and no check from above is judged on them (see `warmingMillis`).
    if (window.meanOpening > 0) this.#openingAt = now
    if (now - this.#openingAt < warmingMillis) this.#level.warming()
    const demand = this.#demand(window, urgent)

    const trial = this.#trial
    // Remembered while a step is judged too: a shrink right after a trial must see the demand during it.
    this.#targets.remember(now, demand.target)
    if (trial !== undefined) {
      const verdict = trial.judge(this.config)
      if (verdict.kind === 'wait' && trial.span < 2 * this.config.kneeWindows) return undefined
      this.#trial = undefined
      const decision = this.#conclude(trial, verdict, now)
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
    if (this.#checkFromAbove && saturated && this.#level.afterWarming().length >= this.config.kneeWindows) {
      this.#checkFromAbove = false
      const down = this.#stepDown(size)
      if (down !== undefined) return down
    }
    if (!this.#pressed) {
      this.#descending = false
      this.#heavier = undefined
      this.#forgetBurst()
      return this.#shrink(window, demand, size, now)
    }
    // At a knee that holds, heavier must hold twice as long: a hiccup of the saturated database would
    // otherwise undo what finding the knee cost (measured on 2 cores: a step from a checked knee of 4 down
    // to 2 served a quarter less for 2.3 s). A longer one is checked at the step down (see `#stepDown`
    // and `#slowdownEnded`).
    const atKnee = this.#knee.at(now) === size
    const shift = this.#level.shift(size, { confirmHeavier: atKnee })
    // A knee found under another load says nothing about this one. Heavier queries usually saturate the
    // database sooner: try fewer connections first (a step that hurts is undone).
    if (shift?.direction === 'heavier') {
      this.#heavier = shift
      this.#heavierAtKnee = atKnee
      // (A knee holds until the step down from it: the windows before that may show a slowdown that ended.)
      if (!atKnee || size <= this.minSize) this.#knee.clear()
      this.#checkFromAbove = false
      this.#checkedKnee = undefined
      this.#descending = true
      this.#idleAbove = 0
      this.#forgetBurst()
    }
    if (shift?.direction === 'lighter') this.#knee.loadLightened(now) // probe above the knee now, judged as such a probe
    if (shift !== undefined) this.#momentum = 'climb'
    if (this.#descending) {
      const down = this.#stepDown(size)
      if (down !== undefined || this.#level.windows.length < 2) return down
    }
    return this.#grow(window, demand, size, now, upperBound(this.minSize, this.maxSize, budgetLimit), burst)
  }

  // Keeps the windows measured at the current size; a new size starts afresh (its first window is blurred).
  #track(size: number, observed: Observed): void {
    if (this.#level.resize(size) && this.#trial !== undefined && this.#trial.to !== size) this.#trial = undefined
    const counts = this.#trial !== undefined ? this.#trial.add(observed) : !this.#skipNext
    this.#skipNext = false
    if (counts) this.#level.add(observed)
  }

  #demand(window: WindowStats, urgent: boolean): Demand {
    const enough = window.checkoutsPerSecond > 0 && window.checkouts >= this.config.minSamples && window.elapsedMillis > 0
    let demand = enough
      ? (window.checkoutsPerSecond * (window.meanUseMillis + window.meanWaitMillis)) / 1000
      : window.meanActive + window.meanWaiting
    if (urgent) demand = Math.max(demand, window.lastActive + window.lastWaiting)
    return { enough, demand, target: Math.ceil(demand * this.config.headroom - 1e-9) }
  }

  /** Acts on a trial's verdict: a decision (brake, or back up), or `undefined` to go on. */
  #conclude(trial: StepTrial, verdict: Verdict, now: number): ScalingDecision | undefined {
    const slowdown = this.#kneeSlowdown?.trial === trial ? this.#kneeSlowdown : undefined
    this.#kneeSlowdown = undefined
    const ended = slowdown !== undefined && trial.lateGain >= slowdownEndedGain && trial.lateCheckoutsPerSecond >= slowdownEndedShare * slowdown.checkoutsPerSecond
    if (ended && (verdict.kind === 'keep' || verdict.kind === 'settle')) {
      return this.#slowdownEnded(trial, verdict, slowdown.useMillis, now)
    }
    switch (verdict.kind) {
      case 'wait':
      case 'unused':
        return undefined
      case 'leap':
      case 'climb': {
        this.#momentum = verdict.kind
        this.#checkFromAbove = trial.hasty
        // A step of more than one probe that paid only in part may owe its whole gain to its first connections.
        if (this.#partialLeap(trial, verdict)) this.#checkOnceFromAbove(trial.to)
        // Above a knee found before, a partial gain moves the knee up one step only: on a flat curve noise
        // reads as a gain now and then, and must not walk the pool up to its bound.
        if (verdict.kind === 'climb' && trial.patient) this.#knee.set(trial.to, now)
        else this.#knee.clear()
        return undefined
      }
      case 'starved':
        // This process could not use the connections: the step proves nothing. Keep it (no brake), and
        // try again when the hold ends, as at a knee.
        this.#momentum = 'climb'
        this.#checkFromAbove = trial.hasty
        this.#knee.set(trial.to, now)
        return undefined
      case 'keep':
      case 'settle': {
        // Connections that did nothing: try fewer still (in a descent). Ones that carried a little: the knee
        // is near, stop. A step that checked a knee from below answered what it asked (the knee is at this
        // size or below) and ends there: past a knee the throughput is flat, so the next step's verdict would
        // be noise (measured on 2 cores beside a busy neighbour: one went on from 4 connections to 2, and the
        // run served a fifth less than a fixed pool of 5).
        const checked = trial.from === this.#checkedKnee
        this.#checkedKnee = undefined
        this.#descending = verdict.kind === 'keep' && !checked
        this.#idleAbove++
        this.#knee.set(trial.to, now)
        return undefined
      }
      case 'restore': {
        this.#descending = false
        const checked = trial.from === this.#checkedKnee
        const full = verdict.efficiency >= this.config.leapEfficiency
        this.#checkedKnee = undefined
        // The connections taken away carried their full share: the pool is on the straight part of the
        // curve, far from any knee, and more connections will pay as these did (a wait-bound load). Unless
        // connections above `from` were found idle before (steps down kept, or a knee right above): the
        // knee then lies between the two sizes. A knee found by a burst's own step is the exception: the
        // check below it contradicts it, and the own step's reading is the weaker of the two (it grows the
        // busy connections by as little as 1.4x, the check shrinks them by 1.75x). That knee is forgotten,
        // but only half a probe follows, not a leap: in the model, a dip of the database on a CPU-bound
        // check costs half a probe, which finds the knee again (a leap cost a fifth of the burst), and a
        // dip on a wait-bound own step no longer holds the burst at 7 connections for the knee's hold.
        const refuted = full && checked && this.#checkingOwnStep
        if (refuted || (full && this.#idleAbove === 0)) {
          this.#knee.clear()
          this.#momentum = refuted ? 'climb' : 'leap'
          this.#idleAbove = 0
          this.#level.returnTo(trial.from, trial.baseline.meanUseMillis)
          return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded(trial.details(verdict)) }
        }
        // They carried part of it: this size is the knee for now; a probe above it comes after the hold
        // (the hold of a knee this step checked from below stands: it was not found again).
        this.#momentum = 'climb'
        const holdMillis = checked ? this.#knee.remainingMillis(now) : this.#knee.set(trial.from, now)
        this.#level.returnTo(trial.from, trial.baseline.meanUseMillis)
        return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
      }
      case 'knee': {
        if (trial.from === trial.to) return this.#burstKnee(trial, verdict, now)
        // The connections that carry today's throughput at the use time measured before the step (no
        // headroom: spare connections past the knee only lengthen every query). A probe above a knee found
        // before that did not pay found that knee again: on a flat curve the connections it carried read
        // above it by noise now and then, and would ratchet the knee up one connection at a time.
        const carried = (verdict.measured.checkoutsPerSecond * trial.baseline.meanUseMillis) / 1000
        const knee = trial.patient ? trial.from : Math.min(trial.to - 1, Math.max(trial.from, this.minSize, Math.ceil(carried - 1e-9)))
        const holdMillis = this.#knee.set(knee, now)
        this.#momentum = 'climb'
        this.#idleAbove++
        // Back where the step started, the load is judged against what was measured there before it.
        if (knee === trial.from) this.#level.returnTo(knee, trial.baseline.meanUseMillis)
        // A burst's first step is judged against the calm before it, and on a database saturated by a few
        // connections the calm served about as much as the burst can. So the size it reached may lie past
        // the knee (noise read as a gain, and the next step found the knee). The knee is never set below
        // the step's start: one step down checks it from below, as after a hasty step.
        if (trial.from === this.#burstReached && !this.#burstChecked && knee > this.minSize) {
          this.#checkFromAbove = true
          this.#checkedKnee = knee
          this.#checkingOwnStep = false
          this.#burstChecked = true
        }
        return { size: knee, reason: 'autoscale:adaptive-knee', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
      }
    }
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
    if (this.#burstReached !== undefined || size >= upper || (knee !== undefined && size >= knee)) return false
    // (Too few windows or checkouts, or none busy when sampled, would make the growth noise or infinite.)
    const calm = this.#level.before(this.config.kneeWindows)
    const judged = calm !== undefined && calm.windows >= Math.min(2, this.config.kneeWindows) && calm.checkouts >= this.config.minSamples
    if (!judged || !(calm.meanActive > 0) || calm.meanActive > calmShare * size) return false
    // The windows from here measure the burst at this size (the latest one is mostly calm).
    this.#level.restart()
    this.#trial = new StepTrial('up', size, size, calm)
    this.#burstReached = size
    this.#queued = true
    return true
  }

  // The burst filled the calm's idle connections and the throughput did not rise with them: the knee is at
  // this size or below. It holds here, and one step down checks it from below (see the 'keep' and
  // 'restore' verdicts).
  #burstKnee(trial: StepTrial, verdict: Extract<Verdict, { kind: 'knee' }>, now: number): ScalingDecision | undefined {
    if (verdict.gain < burstKneeGain) return undefined
    const holdMillis = this.#knee.set(trial.to, now)
    this.#momentum = 'climb'
    this.#idleAbove++
    this.#burstChecked = true
    const down = this.#stepDown(trial.to)
    if (down === undefined) return undefined
    this.#checkedKnee = trial.to
    this.#checkingOwnStep = true
    return { ...down, reason: 'autoscale:adaptive-knee', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
  }

  // At a knee, fewer connections serve no more than the knee's under one load: a step down that a heavier
  // reading started there, and whose last windows then served a tenth more than the slow ones before them,
  // measured the load changing back. The database was slowed for a while (on 2 cores, a busy moment of the
  // machine read as queries 1.7 times heavier), and judged against the slow windows the connections taken
  // away seemed to carry nothing: the step was kept, and the burst served a seventh less than a fixed
  // pool of 5 (the model: the pool held 2 until the knee's hold ended). Back to the knee, where the load is
  // judged against the use time before the reading. (Not when those windows served a fraction of what the
  // knee did before: see `slowdownEndedShare`.)
  #slowdownEnded(trial: StepTrial, verdict: Extract<Verdict, { kind: 'keep' | 'settle' }>, useMillis: number, now: number): ScalingDecision {
    const holdMillis = this.#knee.set(trial.from, now)
    this.#momentum = 'climb'
    this.#descending = false
    this.#idleAbove++
    this.#level.returnTo(trial.from, useMillis)
    return { size: trial.from, reason: 'autoscale:adaptive-restore', details: rounded({ ...trial.details(verdict), kneeHoldMillis: holdMillis }) }
  }

  // A step up of more than one probe (a leap to the target) whose connections carried only part of their
  // share. On a database that saturates between the two sizes, the step's gain came from its first
  // connections and the rest only lengthen every query (measured on a slower 2-core machine: 28 -> 95
  // served 8.2k q/s where 28 served 5.2k, and a fixed pool of 50 served as much as 95 at two thirds of
  // its p99). A step down checks it; past the knee, a second step would be judged on noise (the same
  // machine: descents went on from 63 to 42, were undone, and probed back to 95, each move a dip), so
  // the check ends after its one step, as a check from below does.
  #partialLeap(trial: StepTrial, verdict: Extract<Verdict, { kind: 'leap' | 'climb' }>): boolean {
    return verdict.kind === 'climb' && !trial.patient && this.#leaps(trial.from, trial.to)
  }

  // One step down from `size` once the pool has settled there, judged as any step down; kept, it ends there
  // (the 'keep' verdict reads it as a checked knee), undone at once if its connections carried their share.
  #checkOnceFromAbove(size: number): void {
    this.#checkFromAbove = true
    this.#checkedKnee = size
    this.#checkingOwnStep = false
  }

  // A step of more than one probe.
  #leaps(from: number, to: number): boolean {
    return to > Math.ceil(from * this.config.probeFactor - 1e-9)
  }

  #forgetBurst(): void {
    this.#burstReached = undefined
    this.#burstChecked = false
  }

  // A trial step down, once two windows measured the load: kept if the connections it takes away did nothing.
  // The first step of a descent that a heavier load started says so in its details. Read at a knee, the
  // heavier load must still show in each window since (a slowdown that ended is no reason to leave the knee),
  // and the knee holds until then.
  #stepDown(size: number): ScalingDecision | undefined {
    const baseline = this.#level.windows.length >= 2 ? this.#level.recent(this.config.kneeWindows) : undefined
    if (size <= this.minSize || baseline === undefined) return undefined
    const factor = 1 + (this.config.probeFactor - 1) / 2
    const next = Math.max(this.minSize, Math.min(size - 1, Math.floor(size / factor)))
    this.#descending = false
    const shift = this.#heavier
    this.#heavier = undefined
    const fromKnee = shift !== undefined && this.#heavierAtKnee
    if (fromKnee && !this.#level.stillHeavier(shift, this.config.kneeWindows)) return undefined
    if (fromKnee) this.#knee.clear()
    this.#trial = new StepTrial('down', size, next, baseline)
    if (fromKnee) this.#kneeSlowdown = { trial: this.#trial, useMillis: shift.fromUseMillis, checkoutsPerSecond: shift.fromCheckoutsPerSecond }
    return {
      size: next,
      reason: 'autoscale:adaptive-descend',
      details: rounded({
        checkoutsPerSecond: baseline.checkoutsPerSecond,
        meanUseMillis: baseline.meanUseMillis,
        serverUseMillis: baseline.serverUseMillis,
        eventLoopDelayMillis: baseline.meanLoopDelayMillis,
        ...(shift !== undefined ? { heavierUseRatio: shift.useRatio, previousMeanUseMillis: shift.fromUseMillis, shiftEventLoopDelayMillis: shift.loopDelayMillis } : {}),
      }),
    }
  }

  #grow(window: WindowStats, demand: Demand, size: number, now: number, upper: number, burst: boolean): ScalingDecision | undefined {
    const knee = this.#knee.at(now)
    const cap = knee === undefined ? upper : Math.min(upper, Math.max(knee, size))
    const desired = Math.min(cap, Math.max(demand.target, size + 1))
    if (desired <= size) return undefined
    // A step is judged against the windows before it: take it once there are two, unless it goes to the target.
    if (this.#momentum !== 'leap' && !burst && this.#level.windows.length < Math.min(2, this.config.kneeWindows)) return undefined
    // A leap goes to the target, but no further than two probes at once: connections opened on a busy
    // database are slow, and a leap misjudged from a noisy window is undone by the next trial.
    const factor = this.#momentum === 'climb' ? 1 + (this.config.probeFactor - 1) / 2 : this.#momentum === 'leap' ? this.config.probeFactor ** 2 : this.config.probeFactor
    const next = Math.min(desired, Math.max(size + 1, Math.ceil(size * factor - 1e-9)))
    // At a burst's start the baseline mixes the calm before with the first moments of the queue; its rate
    // and occupancy still belong together, and a step it misjudges is undone one trial later.
    const baseline = this.#level.recent(this.config.kneeWindows)
    // A knee held before (its hold over, not forgotten): this step is a probe above it.
    const reprobe = knee === undefined && this.#knee.holdMillis > 0
    // Right after the last grow, a use time up by a quarter on the size before it: the database may still
    // be paying for that grow's connections, and this step's gain is measured against that cost.
    const quick = now - this.#lastGrowAt < settleMillis
    const hasty = baseline !== undefined && quick && baseline.meanUseMillis >= unsettledUseRatio * this.#useBeforeGrowMillis
    this.#trial = baseline !== undefined && baseline.meanActive > 0 ? new StepTrial('up', size, next, baseline, { patient: reprobe, hasty }) : undefined
    // In a run of quick steps every size's windows may carry the cost of the step before: compare with the lowest.
    const useMillis = baseline?.meanUseMillis ?? Infinity
    this.#useBeforeGrowMillis = quick ? Math.min(this.#useBeforeGrowMillis, useMillis) : useMillis
    this.#checkFromAbove = false
    const reason = this.#momentum === 'leap' ? 'autoscale:adaptive-grow' : 'autoscale:adaptive-probe'
    this.#momentum = 'probe'
    this.#descending = false
    this.#heavier = undefined
    this.#idleAbove = 0
    this.#lastGrowAt = now
    this.#queued = burst || window.meanWaiting >= size
    // (A leap into a deep queue is evaluated urgently too: only the first step of a burst is recorded.)
    if (burst) this.#burstReached ??= next
    this.#checkedKnee = undefined
    // A leap taken before any window measured this size (a step whose verdict came while its connections
    // opened) has nothing to be judged against: it is checked as a leap that paid only in part is.
    if (this.#trial === undefined && this.#leaps(size, next)) this.#checkOnceFromAbove(next)
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
    this.#momentum = 'probe'
    this.#checkFromAbove = false
    this.#checkedKnee = undefined
    return {
      size: next,
      reason: 'autoscale:adaptive-shrink',
      details: rounded({ peakTarget: peak, demand: demand.demand, checkoutsPerSecond: window.checkoutsPerSecond, meanUseMillis: window.meanUseMillis, scaleDownDelayMillis: delay }),
    }
  }
}

