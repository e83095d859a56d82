import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, type AdaptivePoolConfig } from '../src/index.js'
import { drive, type Step } from './_helpers/drive.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, cpuBound, waitBound, type UseTimeModel } from './_helpers/model-pool.js'

const base: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

function setup(model: UseTimeModel, clients: number, overrides: Partial<AdaptivePoolConfig> = {}) {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model, maxSize: 10, clients })
  const policy = new AdaptivePolicy({ ...base, ...overrides }, { clock })
  return { clock, pool, policy }
}

/** 5 clients of 5 ms queries for `calmMillis`, then 100 for `burstMillis`: the steps of the burst. */
function waitBoundBurst(calmMillis: number, burstMillis: number) {
  const { clock, pool, policy } = setup(waitBound(5), 5)
  drive(policy, pool, clock, calmMillis)
  pool.clients = 100
  const burstAt = clock.now()
  return { pool, policy, burstAt, steps: drive(policy, pool, clock, burstMillis) }
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

step('steps up a wait-bound burst to the bound in one step, once the connections the calm left idle paid in full', () => {
  const { policy, burstAt, steps } = waitBoundBurst(5000, 2000)
  // The calm's 5 clients kept 5 of 6 connections busy: the burst filling the sixth is the step judged first.
  // It carried its full share, so the next step takes a connection for every request waiting, up to the bound.
  assert.equal(steps.map((s) => s.decision.reason), ['autoscale:adaptive-grow'])
  assert.equal(steps.map((s) => s.decision.size), [95])
  assert.ok(steps[0]!.at - burstAt <= 2 * policy.evaluationIntervalMillis, `at the bound ${steps[0]!.at - burstAt} ms into the burst`)
  // A leap carries Little's law: ~100 connections asked for, 20% headroom, capped at maxSize.
  const grow = steps[0]!.decision.details
  assert.ok(grow['demand']! > 95 && grow['demand']! < 105, `demand ${grow['demand']}`)
  assert.ok(grow['target']! >= 115)
})

step('a burst`s own step that paid only in part leaps by at most two probes', () => {
  // The calm keeps 5 connections busy; the burst's sixth carries 60% of its share (5 ms queries, 8 ms at 6).
  const model: UseTimeModel = (active) => (active > 5 ? 5 * (6 / 5) / (1 + 0.6 * (1 / 5)) : 5)
  const { clock, pool, policy } = setup(model, 5)
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  const steps = drive(policy, pool, clock, 300)
  assert.is(steps[0]?.decision.reason, 'autoscale:adaptive-grow', steps.map((s) => `${s.decision.reason} ${s.decision.size}`).join(', '))
  assert.is(steps[0]!.decision.size, 24)
})

step('a surge into a database whose knee lies above the calm is checked where its gain puts the knee', () => {
  // CPU-bound on 16 cores: the calm's 5 clients are far below the knee, so the burst's own step pays in full
  // and the pool surges to 95; the surge gains a sixth of its share, and the check goes back near 16.
  const { clock, pool, policy } = setup(cpuBound(1, 16), 5)
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  const before = pool.completed
  const steps = drive(policy, pool, clock, 10_000)
  const trail = steps.map((s) => `${s.decision.reason.replace('autoscale:adaptive-', '')} ${s.from}->${s.decision.size}`).join(', ')
  assert.equal(steps.slice(0, 2).map((s) => s.decision.reason), ['autoscale:adaptive-grow', 'autoscale:adaptive-descend'], trail)
  assert.is(steps[0]!.decision.size, 95)
  const checked = steps[1]!.decision.size
  assert.ok(checked >= 16 && checked <= 24, trail)
  const served = pool.completed - before
  const best = Math.max(...[16, 20, 24, 28].map((size) => {
    const fixed = new ModelPool('fixed', { model: cpuBound(1, 16), maxSize: size, clients: 100 })
    for (let t = 0; t < 10_000; t += 25) fixed.advance(25)
    return fixed.completed
  }))
  assert.ok(served >= 0.95 * best, `${served} against ${best}: ${trail}`)
})

step('reacts to a burst at the next sample, not at the end of the window, and judges its first step on short windows', () => {
  const { clock, pool, policy } = setup(waitBound(5), 5)
  drive(policy, pool, clock, 3000)
  assert.is(policy.dueInMillis(), policy.evaluationIntervalMillis)
  pool.clients = 100
  const burstAt = clock.now()
  // The sample that shows the burst starts its step (the connections the calm left idle), judged half a window apart.
  assert.equal(drive(policy, pool, clock, 2 * policy.sampleIntervalMillis), [])
  assert.is(policy.dueInMillis(), policy.evaluationIntervalMillis / 2)
  const steps = drive(policy, pool, clock, 1000)
  assert.ok(steps[0]!.at - burstAt <= policy.evaluationIntervalMillis, `first grow ${steps[0]!.at - burstAt} ms into the burst`)
  assert.is(pool.maxSize, 95)
})

step('into a queue as deep as the pool, a step that leaps is judged at the sample that shows it, not at the window`s end', () => {
  // An idle calm leaves no baseline: the burst climbs by probes and leaps, each judged as soon as it shows.
  const { clock, pool, policy } = setup(waitBound(5), 0)
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const burstAt = clock.now()
  const steps = drive(policy, pool, clock, 1000)
  const gaps = steps.slice(1).map((s, i) => s.at - steps[i]!.at)
  // Half a window and a sample: two windows' worth of evidence, the second one still open.
  assert.ok(gaps.length >= 2 && gaps.every((gap) => gap === 75), `steps ${steps.map((s) => `${s.at - burstAt}:${s.decision.size}`).join(' ')}`)
  assert.is(pool.maxSize, 95)
})

step('a calm with no checkouts is no baseline: a burst into an idle pool starts with a probe', () => {
  const { clock, pool, policy } = setup(waitBound(5), 0)
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const burstAt = clock.now()
  const steps = drive(policy, pool, clock, 1000)
  assert.is(steps[0]!.decision.reason, 'autoscale:adaptive-probe')
  assert.ok(steps[0]!.at - burstAt <= 2 * policy.sampleIntervalMillis, `probe ${steps[0]!.at - burstAt} ms into the burst`)
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

step('brakes at the knee of a CPU-bound load, on kneeWindows windows: the probe did not raise throughput, so it goes back', () => {
  // Loaded from the first window: no calm left connections idle, so the first step is a probe.
  const { clock, pool, policy } = setup(cpuBound(1, 2), 100)
  const before = pool.maxSize
  // Until the knee's verdict.
  const steps = drive(policy, pool, clock, 400)
  assert.equal(steps.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-knee'])
  const knee = steps[1]!.decision
  assert.ok(knee.details['efficiency']! < 0.05, `efficiency ${knee.details['efficiency']}`)
  assert.is(knee.details['windows'], policy.config.kneeWindows)
  assert.ok(knee.details['useTimeElasticity']! > 0.9, 'the database`s use time rose with the connections')
  assert.ok(knee.size >= before && knee.size < steps[0]!.decision.size)
  assert.is(policy.knee, knee.size)
  assert.is(knee.details['kneeHoldMillis'], policy.config.reprobeMillis)
})

step('judges a burst first at the size the calm left, and checks it from below when the connections it filled did not pay: one step down, kept, and no further', () => {
  // 1 ms of CPU per query on 2 cores: 5 clients before the burst left 7 connections, already past the knee.
  const { clock, pool, policy } = setup(cpuBound(1, 2), 5)
  drive(policy, pool, clock, 5000)
  const before = pool.maxSize
  pool.clients = 100
  const steps = drive(policy, pool, clock, 2000)
  const names = steps.map((s) => s.decision.reason.replace('autoscale:adaptive-', ''))
  // The burst filling the 2 idle connections is the first step: a knee, held at 7, and one step down to the
  // 5 the calm kept busy checks it. Its connections did nothing, so the step is kept; the check answered what
  // it asked (the knee is at 5 or below), and past a knee a further step down could only gain what noise decides.
  assert.equal(names, ['knee'])
  assert.is(steps[0]!.decision.size, 5)
  const knee = steps[0]!.decision.details
  assert.ok(knee['efficiency']! < 0.05 && knee['useTimeElasticity']! > 0.9, JSON.stringify(knee))
  assert.is(knee['windows'], policy.config.kneeWindows)
  // No connection was opened for the burst (opening them costs a database at its knee CPU it has no spare of).
  assert.ok(steps.every((s) => s.decision.size <= before), names.join(' '))
  assert.is(pool.maxSize, 5)
  assert.is(policy.knee, 5)
})

step('checks a burst`s own knee by at least a quarter of a larger pool, and by no more than half a probe: calms that kept most of it busy', () => {
  // 1 ms of CPU per query on 2 cores: calms of 8 to 25 clients leave pools of 10 to 31 (headroom), four fifths
  // of them busy. A check to the calm's busy connections would take a tenth to a fifth of the pool away: too
  // little for a verdict, and read as the same knee found again (its hold doubled).
  for (const clients of [8, 12, 17, 25]) {
    const clock = new ManualClock()
    const pool = new ModelPool('orders', { model: cpuBound(1, 2), maxSize: 40, clients })
    const policy = new AdaptivePolicy(base, { clock })
    drive(policy, pool, clock, 5000)
    const before = pool.maxSize
    pool.clients = 150
    const steps = drive(policy, pool, clock, 2000)
    const names = steps.map((s) => s.decision.reason.replace('autoscale:adaptive-', ''))
    assert.equal(names, ['knee'], `${clients} clients: ${names.join(' ')}`)
    const to = steps[0]!.decision.size
    assert.ok(to < 0.75 * before, `${clients} clients: ${before} -> ${to}`)
    assert.ok(to >= Math.floor(before / 1.5), `${clients} clients: ${before} -> ${to}`)
    // Judged and kept: the check answered (the knee is at this size or below).
    assert.is(pool.maxSize, to, `${clients} clients`)
  }
})

step('probes again while requests wait, after reprobeMillis, doubling the hold each time the knee holds', () => {
  const { clock, pool, policy } = setup(cpuBound(1, 2), 100, { reprobeMillis: 1000, kneeHoldMillis: 4000 })
  const first = drive(policy, pool, clock, 1000)
  assert.equal(first.map((s) => s.decision.reason), ['autoscale:adaptive-probe', 'autoscale:adaptive-knee'])
  const knees = [first[1]!]
  const probes: Step[] = []
  for (const step of drive(policy, pool, clock, 12_000)) (step.decision.reason === 'autoscale:adaptive-knee' ? knees : probes).push(step)
  assert.ok(probes.length >= 3, `${probes.length} probes`)
  assert.equal(knees.map((k) => k.decision.details['kneeHoldMillis']).slice(0, 4), [1000, 2000, 4000, 4000])
  // Each probe comes when the previous knee's hold ends, and nothing grows while it holds.
  for (let i = 0; i < 3; i++) assert.is(probes[i]!.at, knees[i]!.at + knees[i]!.decision.details['kneeHoldMillis']!)
  assert.ok(knees.every((k) => k.decision.size <= 10), 'the same knee every time')
})

step('climbs by half a probe while a step pays only in part, and stops at the knee', () => {
  // Use time grows past 10 connections: doubling from 7 to 14 gains ~43% throughput (efficiency ~0.4).
  const { clock, pool, policy } = setup((active) => 5 * Math.max(1, active / 10), 100)
  pool.resize({ maxSize: 7 })
  const steps = drive(policy, pool, clock, 1000)
  // The knee is found right above the size the burst's first step reached: one step down checks that size
  // from below, and goes back, as the connections it took away carried a share.
  const names = ['probe', 'probe', 'knee', 'descend', 'restore'].map((name) => `autoscale:adaptive-${name}`)
  assert.equal(steps.map((s) => s.decision.reason), names)
  assert.equal(steps.map((s) => s.decision.size), [14, 21, 14, 9, 14])
  // Undone, the check leaves the knee's hold as it was: it ends when it would have, not doubled.
  const holdEnd = (s: Step) => s.at + (s.decision.details['kneeHoldMillis'] as number)
  assert.is(holdEnd(steps[4]!), holdEnd(steps[2]!))
  assert.ok(pool.maxSize >= 10 && pool.maxSize < 21, `knee at ${pool.maxSize}`)
})

step('keeps going when connections do help: a wait-bound step judged efficient is not undone', () => {
  const { clock, pool, policy } = setup(waitBound(20), 60, { maxSize: 200 })
  const steps = drive(policy, pool, clock, 3000)
  assert.not.ok(steps.some((s) => s.decision.reason === 'autoscale:adaptive-knee'))
  assert.ok(pool.maxSize >= 60, `size ${pool.maxSize}`)
})

step.run()
