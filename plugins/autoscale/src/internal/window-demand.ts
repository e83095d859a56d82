// The connections one window asks for by Little's law: what the adaptive policy grows toward and shrinks to.
import type { WindowStats } from './sample-window.js'

/** What one window measured for Little's law. */
export interface Demand {
  /** The window had `minSamples` checkouts: its rate and times count. */
  enough: boolean
  /** Connections the load asks for (Little's law, or the sampled occupancy in a near-empty window). */
  demand: number
  /** `demand` with headroom, rounded up. */
  target: number
}

/** The thresholds the demand uses (from the adaptive config). */
export interface DemandRules {
  minSamples: number
  headroom: number
}

/**
 * The demand of one window: `rate x (use + wait)` once it had `minSamples` checkouts, else the sampled
 * occupancy (active plus waiting).
 *
 * @param urgent - an early evaluation at a burst's start: the last sample counts at least as much as the window
 */
export function windowDemand(window: WindowStats, urgent: boolean, rules: DemandRules): Demand {
  const enough = window.checkoutsPerSecond > 0 && window.checkouts >= rules.minSamples && window.elapsedMillis > 0
  let demand = enough
    ? (window.checkoutsPerSecond * (window.meanUseMillis + window.meanWaitMillis)) / 1000
    : window.meanActive + window.meanWaiting
  if (urgent) demand = Math.max(demand, window.lastActive + window.lastWaiting)
  return { enough, demand, target: Math.ceil(demand * rules.headroom - 1e-9) }
}
