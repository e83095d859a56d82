import type { Observed } from '../../src/internal/aggregate.js'
import type { WindowStats } from '../../src/internal/sample-window.js'

/** A window (100 ms unless told) of a full pool of `active` connections serving `perSecond` checkouts. */
export function window(active: number, perSecond: number, extra: { loopDelayMillis?: number; loopUtilization?: number; idle?: number; waiting?: number; millis?: number; closing?: number } = {}): Observed {
  const elapsedMillis = extra.millis ?? 100
  const checkouts = (perSecond * elapsedMillis) / 1000
  const stats: WindowStats = {
    samples: 4,
    elapsedMillis,
    meanActive: active,
    meanWaiting: extra.waiting ?? 50,
    meanIdle: extra.idle ?? 0,
    meanOpening: 0,
    meanUtilization: 100,
    checkouts,
    checkoutsPerSecond: perSecond,
    // Little's law: every active connection is busy for the whole window.
    meanUseMillis: (1000 * active) / perSecond,
    meanWaitMillis: 20,
    lastTotal: active + (extra.idle ?? 0),
    lastActive: active,
    lastIdle: extra.idle ?? 0,
    lastWaiting: extra.waiting ?? 50,
    lastClosing: extra.closing ?? 0,
    stalled: false,
  }
  return { stats, loopDelayMillis: extra.loopDelayMillis ?? 0, loopUtilization: extra.loopUtilization }
}
