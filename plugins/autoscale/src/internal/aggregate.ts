import type { WindowStats } from './sample-window.js'

/** One closed window and the event-loop delay measured over it. */
export interface Observed {
  stats: WindowStats
  loopDelayMillis: number
  /** Share of the window this process's event loop was busy, 0 to 1 (absent: not measured). */
  loopUtilization?: number | undefined
}

/** Several windows read as one: rates and means over their whole time, so one noisy window weighs what it lasted. */
export interface Aggregate {
  windows: number
  millis: number
  checkouts: number
  checkoutsPerSecond: number
  meanUseMillis: number
  meanLoopDelayMillis: number
  /** Share of the time this process's event loop was busy (0 where it was not measured). */
  meanLoopUtilization: number
  /**
   * The database's share of the use time: each window's use time less that window's event-loop delay (a
   * reply waits about that long in the socket before this process reads it), weighted by its checkouts
   * like the use time. Never below a quarter of a window's use time: a delay that large is measured too
   * coarsely to subtract in full.
   */
  serverUseMillis: number
  meanActive: number
  meanIdle: number
  meanWaiting: number
}

// A window's event-loop delay this many times the median of the windows read with it, and above the
// floor, marks a stall of this process (a collection, a burst of its own work): for most of that window
// it issued and read no query, so its rate says nothing about the pool's size. The floor keeps a quiet
// process's sub-millisecond jitter from counting as a stall.
const stallRatio = 4
const stallFloorMillis = 2
// Fewer windows have no median worth the name.
const minWindowsForStalls = 3

/**
 * The windows less those in which this process stalled: a loop delay that stands out from the others'
 * (`stallRatio` times their median, and over `stallFloorMillis`). A process that is slow throughout (a
 * busy neighbour, a saturated core) has no window that stands out, and keeps them all: that slowness is
 * part of what the pool's size is judged on.
 */
export function withoutStalls<T extends Observed>(windows: readonly T[]): T[] {
  if (windows.length < minWindowsForStalls) return [...windows]
  const delays = windows.map((w) => w.loopDelayMillis).sort((a, b) => a - b)
  const middle = delays.length >> 1
  const median = delays.length % 2 === 1 ? delays[middle]! : (delays[middle - 1]! + delays[middle]!) / 2
  const limit = Math.max(stallFloorMillis, stallRatio * median)
  return windows.filter((w) => w.loopDelayMillis <= limit)
}

/** The windows as one, or `undefined` when they cover no time or no checkout. */
export function aggregate(windows: readonly Observed[]): Aggregate | undefined {
  let millis = 0
  let checkouts = 0
  let useSum = 0
  let serverUseSum = 0
  let loop = 0
  let active = 0
  let idle = 0
  let waiting = 0
  let utilization = 0
  for (const { stats, loopDelayMillis, loopUtilization = 0 } of windows) {
    const weight = stats.elapsedMillis
    if (!(weight > 0)) continue
    millis += weight
    checkouts += stats.checkouts
    useSum += stats.meanUseMillis * stats.checkouts
    // Per window: a stall of the loop delays the replies of the checkouts in that window, not the others'.
    // A stall in a window with few checkouts, subtracted from the mean of all, would hide the database's share.
    serverUseSum += Math.max(stats.meanUseMillis / 4, stats.meanUseMillis - loopDelayMillis) * stats.checkouts
    loop += loopDelayMillis * weight
    utilization += loopUtilization * weight
    active += stats.meanActive * weight
    idle += stats.meanIdle * weight
    waiting += stats.meanWaiting * weight
  }
  if (millis === 0 || checkouts === 0) return undefined
  const meanUseMillis = useSum / checkouts
  const meanLoopDelayMillis = loop / millis
  return {
    windows: windows.length,
    millis,
    checkouts,
    checkoutsPerSecond: (checkouts * 1000) / millis,
    meanUseMillis,
    meanLoopDelayMillis,
    meanLoopUtilization: utilization / millis,
    serverUseMillis: serverUseSum / checkouts,
    meanActive: active / millis,
    meanIdle: idle / millis,
    meanWaiting: waiting / millis,
  }
}
