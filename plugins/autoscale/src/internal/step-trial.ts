import { aggregate, withoutStalls, type Aggregate, type Observed } from './aggregate.js'

/** The thresholds a verdict uses (from the adaptive config). */
export interface TrialRules {
  kneeEfficiency: number
  leapEfficiency: number
  kneeWindows: number
}

/** What a trial concluded, with the numbers behind it. `wait`: not enough evidence yet. */
export type Verdict =
  | { kind: 'wait' }
  /** Up: the connections were not used (demand fell), so the step proves nothing. Down: the pool was not full. */
  | { kind: 'unused'; measured: Aggregate }
  /** Up: the new connections did nearly as much work as the old ones; the next step may go straight to the target. */
  | { kind: 'leap'; measured: Aggregate; efficiency: number; gain: number; growth: number }
  /** Up: the new connections paid in part; the next step is half a probe. */
  | { kind: 'climb'; measured: Aggregate; efficiency: number; gain: number; growth: number }
  /** Up: no gain, but the database's share of the use time did not rise: this process is too busy to use more connections. */
  | { kind: 'starved'; measured: Aggregate; efficiency: number; gain: number; growth: number; useTimeElasticity: number }
  /** Up: no gain and the database's use time rose with the connections: the database's knee. */
  | { kind: 'knee'; measured: Aggregate; efficiency: number; gain: number; growth: number; useTimeElasticity: number }
  /** Down: the connections taken away were doing real work: go back. */
  | { kind: 'restore'; measured: Aggregate; efficiency: number; loss: number; shrink: number }
  /** Down: the connections taken away did (almost) nothing: stay at the smaller size; the next step down may follow. */
  | { kind: 'keep'; measured: Aggregate; efficiency: number; loss: number; shrink: number }
  /** Down: the connections taken away carried a small share, too little to go back for: stay, and step down no further. */
  | { kind: 'settle'; measured: Aggregate; efficiency: number; loss: number; shrink: number }

// Time a step waits for its connections to open, or to close. Both are slow on a busy database and cost
// it CPU meanwhile (a 2-core machine at its limit opened about fifty a second; closing 32 took it half a
// second, at about 18 ms of CPU each): windows judged before then read as a knee after a step up, and as
// connections that carried more than their share after a step down.
const maxMoveMillis = 1500
/**
 * How long after a grow the database is still paying for its connections (the forks, and the new
 * backends' first queries): a step taken sooner is judged against windows that carry that cost.
 */
export const settleMillis = maxMoveMillis
// The longest use time a trial waits out and counts in (see `#unitMillis`): queries slower than this are
// judged on windows of this length, so that a trial still ends within a few seconds.
const maxUnitMillis = 500
// No verdict rests on a single window, whichever way it goes.
const minVerdictWindows = 2
// A probe above a knee found before climbs on a partial gain this many times the knee's bar (see `judge`).
const patientClimbFactor = 3
// Below this change in connections actually used, a step proves nothing either way.
const minJudgedChange = 0.1
// The database's use time rising at least a quarter as fast as the connections (in log terms) makes a
// step that did not pay a knee. When the client shares the database's cores, a saturated server starves
// it too, so the event-loop delay takes much of the rise: the bar is set low.
const serverKneeElasticity = 0.25

/**
 * One resize being judged: the numbers before it (`baseline`, several windows when there were) and the
 * windows after it, read together. No verdict rests on one window. A verdict for more connections (they
 * paid, or this process is what is slow) may come from the first two clean windows (a partial gain on a
 * step that opened nothing needs `kneeWindows` windows, see `judge`); a verdict for fewer
 * (a knee, or connections that did nothing) needs `kneeWindows` of them, so a noisy window or two can
 * delay growth but never undo it. A step down is undone early only when it clearly hurt (`leapEfficiency`).
 * Windows in which this process stalled are not evidence either way (see `withoutStalls`), and those in
 * which a step's new connections warm up only for a leap (see `add`). With queries longer than a window,
 * the windows for the verdicts they would push the wrong way are counted in use times (see `span`).
 */
export class StepTrial {
  readonly direction: 'up' | 'down'
  readonly from: number
  readonly to: number
  readonly baseline: Aggregate
  /** A probe above a knee found before: every verdict waits for `kneeWindows` windows. */
  readonly patient: boolean
  /** Taken soon after the grow before it, with the use time up since: its baseline may carry that grow's cost. */
  readonly hasty: boolean
  /** A surge (see the policy's `#grow`): taken to every request waiting, past where a leap would have stopped. */
  readonly surge: boolean
  readonly windows: Observed[] = []
  // How many of the first `windows` came while the step's new connections warmed up (see `add`).
  #warming = 0
  // Every window since the step, the settling ones included.
  readonly #all: Observed[] = []
  #settlingMillis = 0
  // Time the step's connections were seen opening, and time waited since they opened (see `add`).
  #openingMillis = 0
  #warmedMillis = 0
  #settled = false
  // Time waited out since a step down settled.
  #drainedMillis = 0
  // With queries longer than a window, a window's rate says little: it counts few completions, and for a
  // use time after a step it mixes both sizes. A new connection's first query has not ended yet (a step
  // up looks as if it did not pay), and the queries left after a step down still end at the old pace
  // (it looks as if it cost the removed connections' whole share). So the use time measured before the
  // step, when longer than a window, is the trial's unit of time for the verdicts those windows would
  // push the wrong way: against a step up, and any verdict on a step down.
  readonly #unitMillis: number

  constructor(direction: 'up' | 'down', from: number, to: number, baseline: Aggregate, { patient = false, hasty = false, surge = false } = {}) {
    this.surge = surge
    this.direction = direction
    this.from = from
    this.to = to
    this.baseline = baseline
    this.patient = patient
    this.hasty = hasty
    this.#unitMillis = Math.min(maxUnitMillis, baseline.meanUseMillis)
  }

  /**
   * How much evidence the trial has, in windows: the counted windows (after a step up, those since its new
   * connections warmed up) in which this process did not stall (see `withoutStalls`), but no more than the
   * number of use times (measured before the step) they cover. With short queries and a steady process
   * this is the window count.
   */
  get span(): number {
    return this.#spanOf(withoutStalls(this.#warmed()))
  }

  // The windows a verdict against a step up rests on: those after its new connections warmed up.
  #warmed(): Observed[] {
    return this.#warming === 0 ? this.windows : this.windows.slice(this.#warming)
  }

  #spanOf(steady: readonly Observed[]): number {
    if (!(this.#unitMillis > 0)) return steady.length
    let coveredMillis = 0
    for (const { stats } of steady) coveredMillis += stats.elapsedMillis
    return Math.min(steady.length, coveredMillis / this.#unitMillis)
  }

  /**
   * Takes the next window; returns whether it counts. Windows until the step's connections have opened
   * (or closed), and the one in which they did, are left out of the verdicts against the step: opening
   * and closing connections cost the database CPU and would blur them. A step waits up to
   * `maxMoveMillis` for them (a step down until the driver has closed them, when the pool tells). After
   * a step up, so are the windows while its new connections warm up, as long again as they took to open,
   * except for a leap; after a step down, the windows of the first use time after that (see
   * `#unitMillis`). A leap may count them all (see `#earlyLeap`).
   */
  add(window: Observed): boolean {
    this.#all.push(window)
    const { stats } = window
    const open = stats.lastActive + stats.lastIdle
    // A step down closes busy connections as their queries end, and the server takes a while to let each
    // go: until both are done, the database still carries the old size.
    const moving = this.direction === 'up' ? open < this.to && stats.lastWaiting > 0 : open > this.to || stats.lastClosing > 0
    if (!this.#settled && this.#settlingMillis < maxMoveMillis) {
      this.#settlingMillis += stats.elapsedMillis
      if (moving) {
        if (this.direction === 'up') this.#openingMillis += stats.elapsedMillis
        return false
      }
      this.#settled = true
      this.#drainedMillis = stats.elapsedMillis
      return false
    }
    // (A step whose connections never finished moving has been waited for long enough: it counts from now.)
    // New connections' first queries cost the database about as long again as opening them did (measured on
    // 2 cores: 67 opened in 0.3 s, and the throughput reached its level 0.3 to 0.4 s after; 90 in 0.4 s,
    // and 0.6 s after). Judged on those windows, a step of many connections read as a knee (2 of 10 runs
    // beside a busy neighbour). They only make a gain look smaller: they may show a leap, nothing else.
    // (Nor do they count for the size's load level: they are blurred, as the ones before.)
    if (this.#warmedMillis < this.#openingMillis) {
      this.#warmedMillis += stats.elapsedMillis
      this.#warming++
      this.windows.push(window)
      return false
    }
    if (this.direction === 'down' && this.#settled && this.#drainedMillis < this.#unitMillis) {
      this.#drainedMillis += stats.elapsedMillis
      return false
    }
    this.windows.push(window)
    return true
  }

  judge(rules: TrialRules): Verdict {
    const early = this.#earlyLeap(rules)
    if (early !== undefined) return early
    if (this.direction === 'up') {
      // Windows in which the new connections warmed up make a gain look smaller: they may show a leap, but
      // any other verdict rests on the windows after (counted in, a partial gain made the next step half a
      // probe where the windows after would leap, in the model).
      const verdict = this.#judgeUp(rules, this.windows)
      return verdict.kind === 'leap' || this.#warming === 0 ? verdict : this.#judgeUp(rules, this.#warmed())
    }
    // A window in which this process stalled shows a rate it did not ask the pool for: it is left out, and
    // the verdict waits for a steady one in its place.
    const steady = withoutStalls(this.windows)
    const measured = aggregate(steady)
    const span = this.#spanOf(steady)
    if (measured === undefined || span < Math.min(minVerdictWindows, rules.kneeWindows)) return { kind: 'wait' }
    const before = this.baseline
    const enough = span >= rules.kneeWindows
    const ratio = measured.meanActive / before.meanActive
    const gain = measured.checkoutsPerSecond / before.checkoutsPerSecond
    const shrink = 1 - ratio
    if (shrink < minJudgedChange) return enough ? { kind: 'unused', measured } : { kind: 'wait' }
    const loss = 1 - gain
    // The share of their own throughput the removed connections were carrying.
    const efficiency = loss / shrink
    // Undone on two windows when it clearly hurt; on `kneeWindows` when the removed connections carried at
    // least halfway between a knee's share and a leap's (noise alone must not send a pool back up).
    const restoreEfficiency = (rules.kneeEfficiency + rules.leapEfficiency) / 2
    if (efficiency >= rules.leapEfficiency || (enough && efficiency >= restoreEfficiency)) return { kind: 'restore', measured, efficiency, loss, shrink }
    if (!enough) return { kind: 'wait' }
    // Between a knee's share and the bar to go back, each step down loses a little: on a curve that rises
    // slowly, a descent of such steps would add them up one noisy verdict at a time (measured: 32
    // connections down to 2, a fifth of the throughput lost). The knee is near: the descent ends here.
    return efficiency >= rules.kneeEfficiency ? { kind: 'settle', measured, efficiency, loss, shrink } : { kind: 'keep', measured, efficiency, loss, shrink }
  }

  // The verdict on a step up, from these windows (those in which this process stalled left out, as in `judge`).
  #judgeUp(rules: TrialRules, windows: readonly Observed[]): Verdict {
    const steady = withoutStalls(windows)
    const measured = aggregate(steady)
    // More connections that paid show it as soon as their queries end: that verdict counts windows.
    if (measured === undefined || steady.length < (this.patient ? rules.kneeWindows : Math.min(minVerdictWindows, rules.kneeWindows))) return { kind: 'wait' }
    const before = this.baseline
    const enough = this.#spanOf(steady) >= rules.kneeWindows
    const ratio = measured.meanActive / before.meanActive
    const gain = measured.checkoutsPerSecond / before.checkoutsPerSecond
    if (ratio < 1 + minJudgedChange) return enough ? { kind: 'unused', measured } : { kind: 'wait' }
    const growth = ratio
    const efficiency = (gain - 1) / (growth - 1)
    if (efficiency >= rules.leapEfficiency) return { kind: 'leap', measured, efficiency, gain, growth }
    // A step that opened nothing (a burst filling the connections the calm left idle) grows the busy ones
    // by as little as 1.1x (1.4x in the benchmark: 5 of 7 busy in the calm), so its efficiency carries up
    // to ten times the throughput's noise, and a partial gain opens connections next (measured on 2 cores:
    // CPU-bound bursts past the knee read 0.1 to 0.3 on their first two windows, and the probe that
    // followed opened 4 connections at the burst's start). Only a leap is taken on two windows there; a
    // partial gain needs `kneeWindows` of them (counted as windows, as any verdict for more connections),
    // and three times the knee's bar, as above a knee (below): over four windows, 3 of 10 CPU-bound bursts
    // on a 2-core machine half as fast read gains of 3%, 4% and 10% (efficiency 0.07, 0.10 and 0.25) at a
    // database past its knee, and each climb opened 4 connections on it.
    // Above a knee found before, a partial gain must be three times the knee's bar: there the curve is
    // flat or rises slowly, and a 200 ms trial reads noise as a 2.5% gain now and then. Each such climb
    // moves the knee up a step for good (measured on 2 cores: CPU-bound bursts walked 4 -> 6 -> 9 -> 14
    // connections, and had the longest tails). In the model, half a leap's bar stopped nearly every walk
    // but also the climb up a curve that rises slowly (0.89 of the best fixed pool); three times the
    // knee's keeps that climb.
    const openedNothing = this.from === this.to
    const climbEfficiency = this.patient || openedNothing ? patientClimbFactor * rules.kneeEfficiency : rules.kneeEfficiency
    if (efficiency >= climbEfficiency && (!openedNothing || steady.length >= rules.kneeWindows)) return { kind: 'climb', measured, efficiency, gain, growth }
    if (!enough) return { kind: 'wait' }
    const useTimeElasticity = Math.log(measured.serverUseMillis / before.serverUseMillis) / Math.log(growth)
    // Checkouts waiting while connections sit idle: the pool has connections this process does not get to.
    const handoffLag = measured.meanIdle >= 1 && measured.meanWaiting >= 1
    // (A loop busy all the time is no sign of this process starving: on cores it shares with the database,
    // a saturated server keeps it busy too. Its utilization is in the verdict's details, not in the verdict.)
    const kind = useTimeElasticity >= serverKneeElasticity && !handoffLag ? 'knee' : 'starved'
    return { kind, measured, efficiency, gain, growth, useTimeElasticity }
  }

  /**
   * What the last two counted windows served over the slower of the baseline and the first two (windows
   * in which this process stalled left out): above 1, the load got lighter while the step was judged, or
   * just before it was taken.
   */
  get lateGain(): number {
    const steady = withoutStalls(this.windows)
    const last = aggregate(steady.slice(-2))
    const first = aggregate(steady.slice(0, 2))
    if (last === undefined || first === undefined) return 1
    return last.checkoutsPerSecond / Math.min(this.baseline.checkoutsPerSecond, first.checkoutsPerSecond)
  }

  /** What the last two counted windows served (checkouts per second; windows in which this process stalled left out). */
  get lateCheckoutsPerSecond(): number {
    return aggregate(withoutStalls(this.windows).slice(-2))?.checkoutsPerSecond ?? 0
  }

  /**
   * Whether the windows so far and the one still open (`current`) already make a leap: the judge
   * reaches the same verdict once that window closes, so it can be closed at once.
   */
  leapsWith(current: Observed, rules: TrialRules): boolean {
    return this.#earlyLeap(rules, current) !== undefined
  }

  // More connections that paid in full while the step's connections were still opening: opening them
  // costs the database CPU, which only makes the gain look smaller, so the leap need not wait for them.
  // Verdicts against the step still wait for the settled windows.
  #earlyLeap(rules: TrialRules, current?: Observed): Verdict | undefined {
    if (this.direction !== 'up' || this.patient || this.windows.length >= minVerdictWindows) return undefined
    const all = current === undefined ? this.#all : [...this.#all, current]
    if (all.length < minVerdictWindows) return undefined
    const measured = aggregate(all)
    if (measured === undefined) return undefined
    const growth = measured.meanActive / this.baseline.meanActive
    const gain = measured.checkoutsPerSecond / this.baseline.checkoutsPerSecond
    if (growth < 1 + minJudgedChange) return undefined
    const efficiency = (gain - 1) / (growth - 1)
    return efficiency >= rules.leapEfficiency ? { kind: 'leap', measured, efficiency, gain, growth } : undefined
  }

  /** The numbers behind a verdict, for the decision's details. */
  details(verdict: Exclude<Verdict, { kind: 'wait' | 'unused' }>): Record<string, number> {
    const { kind: _kind, measured, ...ratios } = verdict
    const before = this.baseline
    return {
      ...ratios,
      windows: measured.windows,
      checkoutsPerSecond: measured.checkoutsPerSecond,
      previousCheckoutsPerSecond: before.checkoutsPerSecond,
      meanUseMillis: measured.meanUseMillis,
      previousMeanUseMillis: before.meanUseMillis,
      serverUseMillis: measured.serverUseMillis,
      previousServerUseMillis: before.serverUseMillis,
      eventLoopDelayMillis: measured.meanLoopDelayMillis,
      eventLoopUtilization: measured.meanLoopUtilization,
    }
  }
}
