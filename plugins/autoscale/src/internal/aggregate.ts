import type { WindowStats } from './sample-window.js'

/** One closed window and the event-loop delay measured over it. */
export interface Observed {
  stats: WindowStats
  loopDelayMillis: number
}

/** Several windows read as one: rates and means over their whole time, so one noisy window weighs what it lasted. */
export interface Aggregate {
  windows: number
  millis: number
  checkouts: number
  checkoutsPerSecond: number
  meanUseMillis: number
  meanLoopDelayMillis: number
  /**
   * The database's share of the use time: use time less the event-loop delay (a reply waits about that
   * long in the socket before this process reads it). Never below a quarter of the use time: a delay that
   * large is measured too coarsely to subtract in full.
   */
  serverUseMillis: number
  meanActive: number
  meanIdle: number
  meanWaiting: number
}

/** The windows as one, or `undefined` when they cover no time or no checkout. */
export function aggregate(windows: readonly Observed[]): Aggregate | undefined {
  let millis = 0
  let checkouts = 0
  let useSum = 0
  let loop = 0
  let active = 0
  let idle = 0
  let waiting = 0
  for (const { stats, loopDelayMillis } of windows) {
    const weight = stats.elapsedMillis
    if (!(weight > 0)) continue
    millis += weight
    checkouts += stats.checkouts
    useSum += stats.meanUseMillis * stats.checkouts
    loop += loopDelayMillis * weight
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
    serverUseMillis: Math.max(meanUseMillis / 4, meanUseMillis - meanLoopDelayMillis),
    meanActive: active / millis,
    meanIdle: idle / millis,
    meanWaiting: waiting / millis,
  }
}
