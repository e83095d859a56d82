import { aggregate, withoutStalls, type Aggregate, type Observed } from './aggregate.js'

// Windows kept at the current size (the baseline of the next step, and the recent load).
const keptWindows = 8
// The use time rising by half at one size means the queries got heavier, when each of the last windows
// rose by a quarter at least (a noisy window or two is not a change). Switching from CPU-bound queries
// at the database's knee to ones that wait on it can raise it by less than double.
const heavierRatio = 1.5
const heavierEach = 1.25
// Falling by a third (each window by a fifth) is enough to try more connections: that costs one probe.
const lighterRatio = 1.5
const lighterEach = 1.25
// Windows on each side of that comparison.
const shiftWindows = 4
// A use time that rose with this process's event-loop delay making up this share of the rise or more is the
// machine running slow, not heavier queries: replies wait to be read, and the database's backends wait for
// a core as well. Measured on 2 cores under a load average of 11 to 15: use time 5.4 -> 21.5 ms, 11.5 ms of
// it the loop's delay, read as queries 4 times heavier and sent a wait-bound pool from 95 down to 60. Queries
// that really got heavier raise the use time far more than the loop's delay (wait-bound to CPU-bound at 95
// connections: about 10 ms to 100 ms), since this process then has less work, not more.
const machineShare = 0.5

/** A change of load read at one size, with the use times it compared (a decision's details carry them). */
export interface LoadShift {
  direction: 'heavier' | 'lighter'
  /** The last windows' use time over the reference windows'. */
  useRatio: number
  /** The reference windows' use time (ms). */
  fromUseMillis: number
  /** The reference windows' checkouts per second. */
  fromCheckoutsPerSecond: number
  /** This process's mean event-loop delay over the last windows (ms): a stall of its own shows here. */
  loopDelayMillis: number
}

/**
 * The windows measured at the pool's current size, and whether the load changed under it: the use time
 * compared with the first full windows at this size (the use time as measured: the event-loop delay is
 * too coarse a measure to subtract from single windows). A rise that is half this process's own delay
 * or more is the machine running slow, not heavier queries. A new size starts afresh.
 */
export class LoadLevel {
  #size: number | undefined
  #windows: Observed[] = []
  #anchor: Aggregate | undefined
  // The last window of the reference ones.
  #anchorLast: Observed | undefined
  #returning: { size: number; useMillis: number } | undefined
  // Back at a size after an undone step: what the use time there was before it.
  #useBefore: number | undefined
  // The last window that carried the cost of connections just opened (see `warming`).
  #lastWarming: Observed | undefined

  /** The windows kept, oldest first. */
  get windows(): readonly Observed[] {
    return this.#windows
  }

  /** Starts afresh when the size changed; returns whether it did. */
  resize(size: number): boolean {
    if (size === this.#size) return false
    const returning = this.#returning
    this.#returning = undefined
    this.#size = size
    this.#windows = []
    this.#anchor = undefined
    this.#anchorLast = undefined
    this.#lastWarming = undefined
    this.#useBefore = returning?.size === size ? returning.useMillis : undefined
    return true
  }

  /**
   * The pool goes back to `size`, where the use time was `useMillis` until a step that is being undone. The
   * first windows back still carry that step's cost (connections opened and closed, a queue to drain):
   * against them the load settling again would read as lighter queries, so lighter must also mean lighter
   * than before the step, and heavier heavier than before it.
   */
  returnTo(size: number, useMillis: number): void {
    this.#returning = { size, useMillis }
  }

  add(window: Observed): void {
    this.#windows.push(window)
    if (this.#windows.length > keptWindows) this.#windows.shift()
  }

  /**
   * The windows kept so far carry the cost of connections just opened (the database forking backends that
   * then start slowly): no reference for the load at this size. `afterWarming` and a load shift's
   * reference windows start after them.
   */
  warming(): void {
    this.#lastWarming = this.#windows.at(-1)
  }

  /** The windows kept since the last warming one (all of them once it has rolled out). */
  afterWarming(): readonly Observed[] {
    return this.#windows.slice(this.#windows.indexOf(this.#lastWarming as Observed) + 1)
  }

  /** The last `count` windows in which this process did not stall (see `withoutStalls`), read as one. */
  recent(count: number): Aggregate | undefined {
    return aggregate(withoutStalls(this.#windows).slice(-count))
  }

  /**
   * The `count` windows before the latest one (in which this process did not stall), read as one: the load
   * before a change that the latest window caught the start of.
   */
  before(count: number): Aggregate | undefined {
    return aggregate(withoutStalls(this.#windows.slice(0, -1)).slice(-count))
  }

  /**
   * Whether each of the last `count` windows (in which this process did not stall) still shows the
   * heavier load `shift` read: a use time a quarter above the one it was read against, as each window of
   * the reading had.
   */
  stillHeavier(shift: LoadShift, count: number): boolean {
    return withoutStalls(this.#windows)
      .slice(-count)
      .every((w) => (aggregate([w])?.meanUseMillis ?? 0) >= heavierEach * shift.fromUseMillis)
  }

  /** Drops the windows kept: the load changed at this size, and the next windows measure the new one. */
  restart(): void {
    this.#windows = []
    this.#anchor = undefined
    this.#anchorLast = undefined
    this.#useBefore = undefined
    this.#lastWarming = undefined
  }

  /**
   * Whether the queries got heavier or lighter at this size: the last windows' use time, against the
   * first ones', rose by half (each window by a quarter at least) or fell by a third (each by a fifth). On a
   * change the windows kept so far describe another load: they are dropped, and the next ones become the
   * reference. With `confirmHeavier`, heavier must hold over twice as many windows: at a knee the
   * database is saturated, so a hiccup of a few hundred ms shows in full in the use time, and a step down
   * from a knee loses throughput unless the load really changed.
   */
  shift(size: number, { confirmHeavier = false } = {}): LoadShift | undefined {
    const anchor = this.#anchor
    const full = this.afterWarming().filter((w) => w.stats.meanActive >= 0.9 * size)
    if (anchor === undefined) {
      if (full.length < shiftWindows) return undefined
      const first = full.slice(0, shiftWindows)
      this.#anchor = aggregate(first)
      this.#anchorLast = first.at(-1)
      return undefined
    }
    // The full windows since the reference ones (all of them once those have rolled out).
    const since = full.slice(full.indexOf(this.#anchorLast as Observed) + 1)
    if (since.length < shiftWindows) return undefined
    const heavierSpan = confirmHeavier ? 2 * shiftWindows : shiftWindows
    const heavier = since.length >= heavierSpan ? this.#reading(since.slice(-heavierSpan), anchor, 'heavier') : undefined
    const change = heavier ?? this.#reading(since.slice(-shiftWindows), anchor, 'lighter')
    if (!change) return undefined
    // The windows so far (one may straddle the change) describe another load: start afresh.
    this.restart()
    return change
  }

  // The windows read as one load against the reference windows: the shift they show in `direction`, if any.
  #reading(windows: readonly Observed[], anchor: Aggregate, direction: LoadShift['direction']): LoadShift | undefined {
    const measured = aggregate(windows)
    if (measured === undefined) return undefined
    const useRatio = measured.meanUseMillis / anchor.meanUseMillis
    const each = windows.map((w) => (aggregate([w])?.meanUseMillis ?? anchor.meanUseMillis) / anchor.meanUseMillis)
    const useBefore = this.#useBefore
    const shifted =
      direction === 'heavier'
        ? useRatio >= heavierRatio &&
          Math.min(...each) >= heavierEach &&
          (useBefore === undefined || measured.meanUseMillis >= heavierRatio * useBefore) &&
          !slowMachine(measured, anchor)
        : useRatio <= 1 / lighterRatio && Math.max(...each) <= 1 / lighterEach && (useBefore === undefined || measured.meanUseMillis * lighterRatio <= useBefore)
    if (!shifted) return undefined
    return { direction, useRatio, fromUseMillis: anchor.meanUseMillis, fromCheckoutsPerSecond: anchor.checkoutsPerSecond, loopDelayMillis: measured.meanLoopDelayMillis }
  }
}

// Whether this process's event-loop delay rose by `machineShare` of the use time's rise or more (see there).
function slowMachine(measured: Aggregate, anchor: Aggregate): boolean {
  const useRise = measured.meanUseMillis - anchor.meanUseMillis
  const loopRise = measured.meanLoopDelayMillis - anchor.meanLoopDelayMillis
  return useRise > 0 && loopRise >= machineShare * useRise
}
