import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ThresholdPolicy, type DynamicPoolConfig, type PoolSample } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'

const config: DynamicPoolConfig = {
  enabled: true,
  minSize: 2,
  maxSize: 20,
  scaleUpThreshold: 80,
  scaleDownThreshold: 30,
  scaleUpIncrement: 3,
  scaleDownIncrement: 2,
  evaluationInterval: 1000,
}

function sample(active: number, waiting: number, maxSize: number): PoolSample {
  return {
    activeConnections: active,
    idleConnections: Math.max(0, maxSize - active),
    totalConnections: maxSize,
    waitingRequests: waiting,
    maxSize,
    waitTime: { count: 0, sum: 0 },
    useTime: { count: 0, sum: 0 },
  }
}

function policyWith(overrides: Partial<DynamicPoolConfig> = {}): { policy: ThresholdPolicy; clock: ManualClock } {
  const clock = new ManualClock()
  return { policy: new ThresholdPolicy({ ...config, ...overrides }, { clock }), clock }
}

function feed(policy: ThresholdPolicy, clock: ManualClock, samples: PoolSample[]): void {
  for (const s of samples) {
    clock.advance(100)
    policy.observe(s)
  }
}

const threshold = suite('ThresholdPolicy')

threshold('grows by scaleUpIncrement when mean utilization reaches scaleUpThreshold exactly', () => {
  const { policy, clock } = policyWith()
  // (8 + 0) / 10 = 80%: at the threshold, which counts.
  feed(policy, clock, [sample(8, 0, 10), sample(8, 0, 10)])
  const decision = policy.evaluate({ size: 10 })
  assert.ok(decision)
  assert.is(decision.size, 13)
  assert.is(decision.reason, 'autoscale:threshold-up')
  assert.is(decision.details['utilization'], 80)
  assert.is(decision.details['threshold'], 80)
  assert.is(decision.details['samples'], 2)
})

threshold('counts waiting requests as demand, so a full pool with a queue grows', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(5, 3, 10), sample(6, 2, 10)])
  assert.is(policy.evaluate({ size: 10 })?.size, 13)
})

threshold('shrinks by scaleDownIncrement at or below scaleDownThreshold', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(3, 0, 10), sample(3, 0, 10)])
  const decision = policy.evaluate({ size: 10 })
  assert.ok(decision)
  assert.is(decision.size, 8)
  assert.is(decision.reason, 'autoscale:threshold-down')
  assert.is(decision.details['utilization'], 30)
})

threshold('leaves the size alone between the thresholds', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(5, 0, 10), sample(6, 0, 10)])
  assert.is(policy.evaluate({ size: 10 }), undefined)
})

threshold('averages over the samples of the interval, not the last one', () => {
  const { policy, clock } = policyWith()
  // 100%, 100%, 0%, 0%: the mean (50%) is between the thresholds although the pool ended idle.
  feed(policy, clock, [sample(10, 0, 10), sample(10, 0, 10), sample(0, 0, 10), sample(0, 0, 10)])
  assert.is(policy.evaluate({ size: 10 }), undefined)
})

threshold('caps each sample at 100 so one deep queue does not outweigh the interval', () => {
  const { policy, clock } = policyWith()
  // Uncapped, (10 + 990) / 10 = 10000% would lift the mean far above 80; capped it is (100 + 0 + 0) / 3.
  feed(policy, clock, [sample(10, 990, 10), sample(0, 0, 10), sample(0, 0, 10)])
  const decision = policy.evaluate({ size: 10 })
  assert.is(decision, undefined)
})

threshold('uses each sample`s own maxSize when the size changed within the interval', () => {
  const { policy, clock } = policyWith()
  // 4/4 = 100% and 4/20 = 20%: mean 60%.
  feed(policy, clock, [sample(4, 0, 4), sample(4, 0, 20)])
  assert.is(policy.evaluate({ size: 20 }), undefined)
})

threshold('starts every interval afresh', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(10, 0, 10)])
  assert.is(policy.evaluate({ size: 10 })?.size, 13)
  feed(policy, clock, [sample(6, 0, 13)])
  assert.is(policy.evaluate({ size: 13 }), undefined)
})

threshold('changes nothing after an interval without samples', () => {
  const { policy } = policyWith()
  assert.is(policy.evaluate({ size: 10 }), undefined)
})

threshold('never grows past maxSize nor shrinks below minSize', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(19, 5, 19)])
  assert.is(policy.evaluate({ size: 19 })?.size, 20)
  feed(policy, clock, [sample(20, 5, 20)])
  assert.is(policy.evaluate({ size: 20 }), undefined)
  feed(policy, clock, [sample(0, 0, 3)])
  assert.is(policy.evaluate({ size: 3 })?.size, 2)
  feed(policy, clock, [sample(0, 0, 2)])
  assert.is(policy.evaluate({ size: 2 }), undefined)
})

threshold('moves a pool that is outside the bounds back inside first', () => {
  const { policy } = policyWith()
  const above = policy.evaluate({ size: 50 })
  assert.equal([above?.size, above?.reason], [20, 'autoscale:bounds'])
  const below = policy.evaluate({ size: 1 })
  assert.equal([below?.size, below?.reason], [2, 'autoscale:bounds'])
})

threshold('stays within a shared budget: no growth past it, a shrink when it falls below the size', () => {
  const { policy, clock } = policyWith()
  feed(policy, clock, [sample(10, 5, 10)])
  const capped = policy.evaluate({ size: 10, budgetLimit: 11 })
  assert.is(capped?.size, 11)
  assert.is(capped?.details['budgetLimit'], 11)
  feed(policy, clock, [sample(11, 5, 11)])
  assert.is(policy.evaluate({ size: 11, budgetLimit: 11 }), undefined)
  const cut = policy.evaluate({ size: 11, budgetLimit: 6 })
  assert.equal([cut?.size, cut?.reason], [6, 'autoscale:budget'])
  // The budget never pushes a pool below minSize.
  assert.equal(policy.evaluate({ size: 6, budgetLimit: 0 })?.size, 2)
})

threshold('does nothing when disabled', () => {
  const { policy, clock } = policyWith({ enabled: false })
  feed(policy, clock, [sample(10, 10, 10)])
  assert.is(policy.evaluate({ size: 10 }), undefined)
  assert.is(policy.evaluate({ size: 100 }), undefined)
})

threshold('samples ten times per interval by default, at most every 25 ms', () => {
  assert.is(policyWith().policy.sampleIntervalMillis, 100)
  assert.is(policyWith({ evaluationInterval: 100 }).policy.sampleIntervalMillis, 25)
  assert.is(policyWith({ evaluationInterval: 10 }).policy.sampleIntervalMillis, 10)
  assert.is(policyWith({ sampleIntervalMillis: 250 }).policy.sampleIntervalMillis, 250)
})

threshold.run()
