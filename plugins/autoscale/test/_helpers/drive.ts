import type { ScalingDecision, ScalingPolicy } from '../../src/index.js'
import type { ManualClock } from './manual-clock.js'
import type { ModelPool } from './model-pool.js'

/** One decision a driven policy took, with the time it took it. */
export interface Step {
  at: number
  from: number
  decision: ScalingDecision
}

const lastEvaluation = new WeakMap<ScalingPolicy, number>()

/**
 * Runs a policy against a model pool for `millis` of model time, the way the autoscaler does: a tick
 * every `sampleIntervalMillis` that samples, or evaluates when the policy's `dueInMillis()` says so.
 * Applies each decision to the pool and returns them.
 */
export function drive(policy: ScalingPolicy, pool: ModelPool, clock: ManualClock, millis: number): Step[] {
  const steps: Step[] = []
  const tick = policy.sampleIntervalMillis
  if (!lastEvaluation.has(policy)) lastEvaluation.set(policy, clock.now())
  const evaluate = () => {
    policy.observe(pool.getPoolMetrics())
    lastEvaluation.set(policy, clock.now())
    const from = pool.maxSize
    const decision = policy.evaluate({ size: from, eventLoopDelayMillis: pool.takeLoopDelay() })
    if (decision !== undefined && decision.size !== from) {
      pool.resize({ maxSize: decision.size }, { reason: decision.reason, details: decision.details })
      steps.push({ at: clock.now(), from, decision })
    }
  }
  for (let elapsed = tick; elapsed <= millis; elapsed += tick) {
    clock.advance(tick)
    pool.advance(tick)
    const due = (lastEvaluation.get(policy) as number) + (policy.dueInMillis?.() ?? policy.evaluationIntervalMillis) - tick / 2
    if (clock.now() >= due) {
      evaluate()
      continue
    }
    policy.observe(pool.getPoolMetrics())
    if (policy.dueInMillis?.() === 0) evaluate()
  }
  return steps
}

/** How many times the direction of change flipped (grow after shrink or shrink after grow). */
export function reversals(steps: readonly Step[]): number {
  let count = 0
  let last = 0
  for (const step of steps) {
    const direction = Math.sign(step.decision.size - step.from)
    if (direction !== 0 && last !== 0 && direction !== last) count++
    if (direction !== 0) last = direction
  }
  return count
}
