import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, type AdaptivePoolConfig } from '../src/index.js'
import { drive } from './_helpers/drive.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, cpuBound, waitBound, type UseTimeModel } from './_helpers/model-pool.js'

const base: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

function setup(model: UseTimeModel, clients: number, overrides: Partial<AdaptivePoolConfig> = {}) {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model, maxSize: 10, clients })
  const policy = new AdaptivePolicy({ ...base, ...overrides }, { clock })
  return { clock, pool, policy }
}

const step = suite('AdaptivePolicy under a step load')

step('sizes a steady load by Little`s law with headroom: 5 clients x 5 ms at 1000/s -> 6 connections', () => {
  const { clock, pool, policy } = setup(waitBound(5), 5)
  const steps = drive(policy, pool, clock, 5000)
  assert.is(pool.maxSize, 6)
  const shrink = steps.at(-1)?.decision
  assert.is(shrink?.reason, 'autoscale:adaptive-shrink')
  assert.is(shrink?.details['checkoutsPerSecond'], 1000)
  assert.is(shrink?.details['meanUseMillis'], 5)
  assert.is(shrink?.details['peakTarget'], 6)
})

step('steps up a wait-bound burst to the bound in two evaluations: a probe, then straight to the target', () => {
  const { clock, pool, policy } = setup(waitBound(5), 5)
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  const steps = drive(policy, pool, clock, 2000)
  assert.equal(steps.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-grow'])
  assert.equal(steps.map((s) => s.decision.size), [12, 95])
  assert.ok(steps[1] !== undefined && steps[1].at - steps[0]!.at <= 2 * policy.evaluationIntervalMillis)
  // The grow decision carries Little's law: ~100 connections asked for, 20% headroom, capped at maxSize.
  const grow = steps[1]!.decision.details
  assert.ok(grow['demand']! > 95 && grow['demand']! < 105, `demand ${grow['demand']}`)
  assert.ok(grow['target']! >= 115)
})

step('reacts to a burst at the next sample, not at the end of the window, and judges the probe on short windows', () => {
  const { clock, pool, policy } = setup(waitBound(5), 5)
  drive(policy, pool, clock, 3000)
  assert.is(policy.dueInMillis(), policy.evaluationIntervalMillis)
  pool.clients = 100
  const burstAt = clock.now()
  const steps = drive(policy, pool, clock, 1000)
  assert.ok(steps[0]!.at - burstAt <= 2 * policy.sampleIntervalMillis, `probe ${steps[0]!.at - burstAt} ms into the burst`)
  assert.ok(steps[1]!.at - steps[0]!.at <= policy.evaluationIntervalMillis, `verdict ${steps[1]!.at - steps[0]!.at} ms after the probe`)
  assert.is(pool.maxSize, 95)
})

step('steps down after the burst, once demand stayed low for scaleDownDelayMillis', () => {
  const { clock, pool, policy } = setup(waitBound(5), 100)
  drive(policy, pool, clock, 3000)
  assert.is(pool.maxSize, 95)
  pool.clients = 5
  const droppedAt = clock.now()
  const early = drive(policy, pool, clock, 1750)
  assert.equal(early, [], 'no shrink within the delay')
  const later = drive(policy, pool, clock, 1000)
  assert.ok(later.length >= 1 && later.length <= 2, `${later.length} shrinks`)
  assert.ok(later.every((s) => s.decision.reason === 'autoscale:adaptive-shrink'))
  // The window that straddled the drop may hold one intermediate step.
  assert.ok(later[0]!.at >= droppedAt + 2000 - policy.evaluationIntervalMillis)
  assert.is(pool.maxSize, 6)
})

step('brakes at the knee of a CPU-bound load: the probe did not raise throughput, so it goes back', () => {
  const { clock, pool, policy } = setup(cpuBound(1, 2), 5)
  drive(policy, pool, clock, 5000)
  const before = pool.maxSize
  pool.clients = 100
  const steps = drive(policy, pool, clock, 2000)
  assert.equal(steps.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-knee'])
  const knee = steps[1]!.decision
  assert.ok(knee.details['efficiency']! < 0.5, `efficiency ${knee.details['efficiency']}`)
  assert.ok(knee.details['useTimeRatio']! > 1.8, 'use time rose with the connections')
  assert.ok(knee.size >= before && knee.size < steps[0]!.decision.size)
  assert.is(policy.knee, knee.size)
})

step('holds the knee for kneeHoldMillis, then probes again', () => {
  const { clock, pool, policy } = setup(cpuBound(1, 2), 100, { kneeHoldMillis: 5000 })
  const first = drive(policy, pool, clock, 1000)
  assert.equal(first.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-knee'])
  const kneeAt = first[1]!.at
  const kneeSize = pool.maxSize
  const held = drive(policy, pool, clock, kneeAt + 5000 - policy.evaluationIntervalMillis - clock.now())
  assert.equal(held, [], 'no growth while the knee holds, though requests wait')
  assert.is(pool.maxSize, kneeSize)
  const after = drive(policy, pool, clock, 500)
  assert.is(after[0]?.decision.reason, 'autoscale:adaptive-probe')
  assert.is(after[0]?.at, kneeAt + 5000)
  assert.is(after[1]?.decision.reason, 'autoscale:adaptive-knee')
})

step('climbs by half a probe while a step pays only in part, and stops at the knee', () => {
  // Use time grows past 10 connections: doubling from 7 to 14 gains ~43% throughput (efficiency ~0.4).
  const { clock, pool, policy } = setup((active) => 5 * Math.max(1, active / 10), 100)
  pool.resize({ maxSize: 7 })
  const steps = drive(policy, pool, clock, 1000)
  assert.equal(steps.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-probe', 'autoscale:adaptive-knee'])
  assert.equal(steps.map((s) => s.decision.size).slice(0, 2), [14, 21])
  assert.ok(pool.maxSize >= 10 && pool.maxSize < 21, `knee at ${pool.maxSize}`)
})

step('keeps going when connections do help: a wait-bound step judged efficient is not undone', () => {
  const { clock, pool, policy } = setup(waitBound(20), 60, { maxSize: 200 })
  const steps = drive(policy, pool, clock, 3000)
  assert.not.ok(steps.some((s) => s.decision.reason === 'autoscale:adaptive-knee'))
  assert.ok(pool.maxSize >= 60, `size ${pool.maxSize}`)
})

step.run()
