import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, type AdaptivePoolConfig, type PoolSample } from '../src/index.js'
import { drive, reversals, type Step } from './_helpers/drive.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, measured, waitBound } from './_helpers/model-pool.js'

const base: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

function setup(clients: number, overrides: Partial<AdaptivePoolConfig> = {}, size = 10) {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: size, clients })
  const policy = new AdaptivePolicy({ ...base, ...overrides }, { clock })
  return { clock, pool, policy }
}

const stability = suite('AdaptivePolicy stability')

stability('does not flap under a load that swings faster than the scale-down delay', () => {
  const { clock, pool, policy } = setup(5)
  const steps = []
  for (let i = 0; i < 20; i++) {
    pool.clients = i % 2 === 0 ? 60 : 5
    steps.push(...drive(policy, pool, clock, 500))
  }
  assert.is(reversals(steps), 0, steps.map((s) => `${s.from}->${s.decision.size}`).join(' '))
  assert.ok(pool.maxSize >= 60, 'sized for the peaks')
})

stability('does not shrink on one quiet window after a long trial: the demand measured during the trial counts', () => {
  // Queries that hold a connection 500 ms at the knee (20 connections): a probe above it is judged over
  // kneeWindows use times, so its knee verdict comes after the cooldown since that growth has run out.
  const { clock, pool, policy } = setup(100, {}, 20)
  pool.model = measured([[1, 2], [20, 40], [95, 40]])
  const steps: Step[] = []
  let knee: Step | undefined
  for (let elapsed = 0; knee === undefined && elapsed < 20_000; elapsed += 50) {
    const taken = drive(policy, pool, clock, 50)
    steps.push(...taken)
    const found = taken.find((s) => s.decision.reason === 'autoscale:adaptive-knee')
    const grown = steps.filter((s) => s.decision.size > s.from).at(-1)
    if (found !== undefined && grown !== undefined && found.at - grown.at >= 2000) knee = found
  }
  assert.ok(knee !== undefined, steps.map((s) => `${s.from}->${s.decision.size} ${s.decision.reason}`).join(' '))
  // Right after it, one window in which most clients are away.
  pool.clients = 3
  const quiet = drive(policy, pool, clock, 100)
  pool.clients = 100
  const after = [...quiet, ...drive(policy, pool, clock, 500)]
  assert.not.ok(after.some((s) => s.decision.reason === 'autoscale:adaptive-shrink'), after.map((s) => `${s.from}->${s.decision.size} ${s.decision.reason}`).join(' '))
})

stability('follows a load that swings slower than the delay, without extra moves', () => {
  const { clock, pool, policy } = setup(5)
  const steps = []
  for (let i = 0; i < 6; i++) {
    pool.clients = i % 2 === 0 ? 60 : 5
    steps.push(...drive(policy, pool, clock, 5000))
  }
  // Per cycle at most a probe and two leaps up, and a shrink down (in two steps when a window straddles the drop).
  assert.ok(steps.length <= 15, `${steps.length} decisions`)
  assert.not.ok(steps.some((s) => s.decision.reason === 'autoscale:adaptive-knee'), 'no knee in a wait-bound load')
  assert.ok(reversals(steps) <= 5)
})

stability('holds still under a steady load', () => {
  const { clock, pool, policy } = setup(30)
  drive(policy, pool, clock, 5000)
  const steady = drive(policy, pool, clock, 20_000)
  assert.equal(steady, [])
  assert.ok(pool.maxSize >= 30 && pool.maxSize <= 40, `size ${pool.maxSize}`)
})

stability('does not grow on a near-empty window, even if its few checkouts waited', () => {
  const { clock, policy } = setup(0)
  const sample = (useCount: number, waitSum: number): PoolSample => ({
    activeConnections: 1,
    idleConnections: 9,
    totalConnections: 10,
    waitingRequests: 0,
    maxSize: 10,
    waitTime: { count: useCount, sum: waitSum },
    useTime: { count: useCount, sum: useCount * 5 },
  })
  policy.observe(sample(0, 0))
  clock.advance(250)
  // 5 checkouts (< minSamples 20) that waited 50 ms each.
  policy.observe(sample(5, 250))
  assert.is(policy.evaluate({ size: 10 }), undefined)
})

stability('decides nothing on a window without samples', () => {
  const { clock, policy } = setup(0)
  clock.advance(10_000)
  assert.is(policy.evaluate({ size: 10 }), undefined)
  assert.is(policy.evaluate({ size: 10 }), undefined)
})

stability('does not shrink a busy pool on a window that spans a stall or a clock jump (a machine resumed)', () => {
  for (const gapMillis of [3_000, 600_000]) {
    const { clock, pool, policy } = setup(16, {}, 20)
    drive(policy, pool, clock, 20_000)
    const before = pool.maxSize
    assert.ok(before >= 16, `settled at ${before}`)
    // Nothing ran meanwhile: no sample, no checkout, time moved on.
    clock.advance(gapMillis)
    const after = drive(policy, pool, clock, 1_000)
    const shrinks = after.filter((step) => step.decision.reason === 'autoscale:adaptive-shrink')
    assert.equal(shrinks.map((s) => `${s.from}->${s.decision.size}`), [], `a ${gapMillis} ms gap read as no demand`)
    assert.ok(pool.maxSize >= 16)
  }
})

stability('a shrink stays at or above the connections in use at the last sample, and waits while requests wait', () => {
  // A pool of 20 that served a trickle for 5 s (the demand reads low), then a last sample that says otherwise.
  const shrinkAfter = (last: { active: number; waiting: number }) => {
    const clock = new ManualClock()
    const policy = new AdaptivePolicy({ ...base, minSize: 2, maxSize: 40 }, { clock })
    let checkouts = 0
    const sample = (active: number, waiting: number): PoolSample => ({
      activeConnections: active,
      idleConnections: 20 - active,
      totalConnections: 20,
      waitingRequests: waiting,
      maxSize: 20,
      waitTime: { count: checkouts, sum: 0 },
      useTime: { count: checkouts, sum: checkouts * 5 },
    })
    // A first evaluation starts the policy's clock; the next, past scaleDownDelayMillis, has the whole trickle
    // as its window, and the sample given as its last.
    const tick = (active: number, waiting: number) => {
      clock.advance(policy.sampleIntervalMillis)
      checkouts += 1
      policy.observe(sample(active, waiting))
    }
    for (let at = 0; at < 100; at += policy.sampleIntervalMillis) tick(1, 0)
    policy.evaluate({ size: 20 })
    for (let at = 100; at < 2_500; at += policy.sampleIntervalMillis) tick(1, 0)
    tick(last.active, last.waiting)
    return policy.evaluate({ size: 20 })
  }
  assert.is(shrinkAfter({ active: 1, waiting: 0 })?.reason, 'autoscale:adaptive-shrink', 'the control: a trickle shrinks the pool')
  const busy = shrinkAfter({ active: 15, waiting: 0 })
  assert.ok(busy === undefined || busy.size >= 15, `shrank to ${busy?.size} with 15 in use`)
  const waiting = shrinkAfter({ active: 1, waiting: 3 })
  assert.ok(waiting === undefined || waiting.size >= 20, `${waiting?.reason} to ${waiting?.size} while requests wait`)
})

stability('shrinks an idle pool to minSize after the delay', () => {
  const { clock, pool, policy } = setup(0, {}, 40)
  const steps = drive(policy, pool, clock, 3000)
  assert.is(steps.length, 1)
  assert.is(steps[0]?.decision.reason, 'autoscale:adaptive-shrink')
  assert.is(pool.maxSize, 2)
})

stability('never leaves its bounds, and brings a pool outside them back first', () => {
  const { clock, pool, policy } = setup(500, { minSize: 4, maxSize: 30 }, 2)
  const first = policy.evaluate({ size: 2 })
  assert.equal([first?.size, first?.reason], [4, 'autoscale:bounds'])
  pool.resize({ maxSize: 4 })
  const steps = drive(policy, pool, clock, 5000)
  assert.is(pool.maxSize, 30)
  assert.ok(steps.every((s) => s.decision.size >= 4 && s.decision.size <= 30))
  pool.clients = 0
  drive(policy, pool, clock, 5000)
  assert.is(pool.maxSize, 4)
  assert.equal(policy.evaluate({ size: 31 })?.reason, 'autoscale:bounds')
})

stability('grows no further than the shared budget allows, and shrinks when it drops', () => {
  const { clock, pool, policy } = setup(100)
  const steps = []
  for (let i = 0; i < 8; i++) {
    clock.advance(250)
    pool.advance(250)
    policy.observe(pool.getPoolMetrics())
    const decision = policy.evaluate({ size: pool.maxSize, budgetLimit: 25 })
    if (decision !== undefined) {
      pool.resize({ maxSize: decision.size })
      steps.push(decision)
    }
  }
  assert.is(pool.maxSize, 25)
  assert.ok(steps.every((d) => d.size <= 25))
  const cut = policy.evaluate({ size: 25, budgetLimit: 12 })
  assert.equal([cut?.size, cut?.reason], [12, 'autoscale:budget'])
})

stability('asks for an early evaluation when a burst begins, not again and again while requests wait', () => {
  const { clock, pool, policy } = setup(100, {}, 10)
  const tick = () => {
    clock.advance(policy.sampleIntervalMillis)
    pool.advance(policy.sampleIntervalMillis)
    policy.observe(pool.getPoolMetrics())
  }
  tick()
  tick()
  assert.is(policy.dueInMillis(), 0, 'a full pool with a queue as deep as the pool is urgent')
  assert.is(policy.evaluate({ size: 10, budgetLimit: 10 }), undefined)
  tick()
  tick()
  assert.ok(policy.dueInMillis() > 0, 'no second early evaluation')
  clock.advance(policy.evaluationIntervalMillis)
  tick()
  tick()
  assert.is(policy.dueInMillis(), policy.evaluationIntervalMillis / 2, 'under pressure, evaluations half a window apart')
  // Once the burst is over, the next one is urgent again.
  pool.clients = 2
  tick()
  assert.is(policy.evaluate({ size: 10, budgetLimit: 10 }), undefined)
  pool.clients = 100
  clock.advance(policy.evaluationIntervalMillis)
  tick()
  tick()
  assert.is(policy.dueInMillis(), 0)
})

stability('does nothing when disabled', () => {
  const { clock, pool, policy } = setup(100, { enabled: false })
  assert.equal(drive(policy, pool, clock, 3000), [])
})

stability.run()
