import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, type AdaptivePoolConfig } from '../src/index.js'
import { drive, type Step } from './_helpers/drive.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, cpuBound, measured, measuredCpuBound, waitBound, type ModelPoolOptions, type UseTimeModel } from './_helpers/model-pool.js'
import { seeded, withDips } from './_helpers/random.js'

const config: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

function setup(options: Omit<ModelPoolOptions, 'maxSize'>) {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { maxSize: 10, ...options })
  const policy = new AdaptivePolicy(config, { clock })
  return { clock, pool, policy }
}

const reasons = (steps: readonly Step[]) => steps.map((s) => s.decision.reason.replace('autoscale:adaptive-', ''))

/** Queries/s a fixed pool of `size` serves over the same model time (and the same noise, when seeded alike). */
function fixedThroughput(options: Omit<ModelPoolOptions, 'maxSize'>, size: number, millis: number): number {
  const pool = new ModelPool('fixed', { ...options, maxSize: size })
  for (let t = 0; t < millis; t += 25) pool.advance(25)
  return (pool.completed * 1000) / millis
}

const noise = suite('AdaptivePolicy in a noisy world')

noise('judges a probe on more than one window: a stall right after it does not stop a wait-bound burst', () => {
  let stallFrom = Infinity
  const clock = new ManualClock()
  // Right after the first probe, for 150 ms, the database takes four times as long (nobody reports why):
  // judged on that one window, the probe did not pay.
  const stalled = () => clock.now() > stallFrom + 50 && clock.now() <= stallFrom + 200
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 5, noise: () => (stalled() ? 4 : 1) })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  stallFrom = clock.now()
  const steps = drive(policy, pool, clock, 2000)
  assert.not.ok(reasons(steps).includes('knee'), reasons(steps).join(' '))
  assert.is(pool.maxSize, 95)
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined && atBound.at - stallFrom <= 600, `at the bound ${(atBound?.at ?? NaN) - stallFrom} ms into the burst`)
})

for (const seed of [1, 2, 3, 4, 5]) {
  noise(`a load that jitters by +-40% every sample (seed ${seed}) gets >= 0.9 of the best fixed pool, wait-bound and CPU-bound`, () => {
    for (const model of [waitBound(5), measuredCpuBound] as UseTimeModel[]) {
      const random = seeded(seed)
      const jitter = () => 0.6 + 0.8 * random()
      const { clock, pool, policy } = setup({ model, clients: 100, noise: jitter })
      drive(policy, pool, clock, 10_000)
      const adaptive = (pool.completed * 1000) / 10_000
      const best = Math.max(...[5, 20, 50, 95].map((size) => fixedThroughput({ model, clients: 100, noise: (() => { const r = seeded(seed); return () => 0.6 + 0.8 * r() })() }, size, 10_000)))
      assert.ok(adaptive >= 0.9 * best, `${adaptive.toFixed(0)} q/s against ${best.toFixed(0)}`)
    }
  })
}

noise('tells this process starving from the database`s knee: use time that grew by the event-loop delay is no knee', () => {
  // A wait-bound query (5 ms on the server) and a client that can handle 8,000 checkouts/s: past 40
  // connections throughput is flat and every use time grows by the delay its event loop adds.
  const client = (active: number) => Math.max(0, active / 8 - 5)
  const starved = setup({ model: waitBound(5), loopDelay: client, clients: 100 })
  const starvedSteps = drive(starved.policy, starved.pool, starved.clock, 5000)
  assert.not.ok(reasons(starvedSteps).includes('knee'), reasons(starvedSteps).join(' '))
  // No brake below the 40 connections that carry the throughput (a check from above may find 95 more
  // than needed, and keep fewer).
  assert.ok(starved.pool.maxSize >= 40, `size ${starved.pool.maxSize}: ${reasons(starvedSteps).join(' ')}`)
  // The same numbers with nobody reporting the delay: the use time rises on the database's side, a knee.
  const saturated = setup({ model: (active) => 5 + client(active), clients: 100 })
  const saturatedSteps = drive(saturated.policy, saturated.pool, saturated.clock, 5000)
  assert.ok(reasons(saturatedSteps).includes('knee'), reasons(saturatedSteps).join(' '))
  assert.ok(saturated.pool.maxSize < 95, `size ${saturated.pool.maxSize}`)
})

noise('a knee found by a probe that cost dearly holds: the windows still carrying its cost are no lighter load', () => {
  const clock = new ManualClock()
  let lastActive = 0
  let recoveringUntil = -Infinity
  // Wait-bound queries (5 ms) on a database that thrashes past 60 connections (every query takes 20 ms), and
  // goes on thrashing for 500 ms after the connections above 60 have closed.
  const model = (active: number): number => {
    if (active < lastActive && lastActive > 60) recoveringUntil = clock.now() + 500
    lastActive = active
    return active > 60 || clock.now() < recoveringUntil ? 20 : 5
  }
  const pool = new ModelPool('orders', { model, maxSize: 10, clients: 100 })
  const policy = new AdaptivePolicy(config, { clock })
  const steps = drive(policy, pool, clock, 6000)
  const knee = steps.find((s) => s.decision.reason === 'autoscale:adaptive-knee')
  assert.ok(knee !== undefined && knee.decision.size <= 60, reasons(steps).join(' '))
  // Back at the knee the use time falls from 20 ms to 5 ms as the database recovers: the load it had before
  // the probe, not a lighter one. The next probe waits for the hold.
  const holdMillis = knee.decision.details['kneeHoldMillis'] as number
  const early = steps.find((s) => s.at > knee.at && s.at < knee.at + holdMillis && s.decision.size > knee.decision.size)
  assert.is(early, undefined, `probed ${(early?.at ?? 0) - knee.at} ms after the knee: ${reasons(steps).join(' ')}`)
})

noise('keeps probing while requests wait: a knee is tried again when its hold ends, and left when the load changed', () => {
  // At 10 connections the CPU-bound model's use time (5.2 ms) looks just like the wait-bound one's (5 ms):
  // nothing shows the change but a probe.
  const { clock, pool, policy } = setup({ model: cpuBound(1, 2), clients: 100 })
  const before = drive(policy, pool, clock, 3000)
  const knee = before.filter((s) => s.decision.reason === 'autoscale:adaptive-knee').at(-1)
  assert.ok(knee !== undefined && pool.maxSize <= 10, reasons(before).join(' '))
  pool.model = waitBound(5)
  const steps = drive(policy, pool, clock, 10_000)
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined, reasons(steps).join(' '))
  const probeDue = knee.at + (knee.decision.details['kneeHoldMillis'] as number)
  assert.ok(atBound.at <= probeDue + 500, `at the bound ${atBound.at - probeDue} ms after the knee's hold ended`)
})

noise('probes above a knee at once when the use time shows the queries got lighter', () => {
  // At the knee the CPU-bound queries hold a connection ~20 ms; waiting on the server takes 5.
  const { clock, pool, policy } = setup({ model: cpuBound(4, 2), clients: 100 })
  drive(policy, pool, clock, 3000)
  assert.ok(policy.knee !== undefined && policy.knee <= 10, `knee ${policy.knee}`)
  pool.model = waitBound(5)
  const changedAt = clock.now()
  const steps = drive(policy, pool, clock, 3000)
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined && atBound.at - changedAt <= 1000, `${reasons(steps).join(' ')}: at the bound ${(atBound?.at ?? NaN) - changedAt} ms after the change`)
})

noise('a knee found right after the queries got lighter holds for the first hold only: the one before was another load\'s', () => {
  // The CPU-bound knee is found twice, so its hold has doubled to 4 s. Then the queries wait on the server
  // instead, and the probe that the lighter load starts meets a dip of the database (three times as slow
  // for 300 ms): it reads as the same knee, found again.
  let dipFrom = Infinity
  const clock = new ManualClock()
  const dipping = () => clock.now() > dipFrom && clock.now() <= dipFrom + 300
  const pool = new ModelPool('orders', { model: cpuBound(4, 2), maxSize: 10, clients: 100, noise: () => (dipping() ? 3 : 1) })
  const policy = new AdaptivePolicy(config, { clock })
  const before = drive(policy, pool, clock, 8000)
  assert.is(before.filter((s) => s.decision.reason === 'autoscale:adaptive-knee').at(-1)?.decision.details['kneeHoldMillis'], 4000, reasons(before).join(' '))
  pool.model = waitBound(5)
  const changedAt = clock.now()
  const resize = pool.resize.bind(pool)
  pool.resize = (size, options) => {
    if (dipFrom === Infinity && (size.maxSize ?? 0) > pool.maxSize) dipFrom = clock.now()
    resize(size, options)
  }
  const steps = drive(policy, pool, clock, 6000)
  const knee = steps.find((s) => s.decision.reason === 'autoscale:adaptive-knee')
  assert.ok(knee !== undefined, reasons(steps).join(' '))
  assert.is(knee.decision.details['kneeHoldMillis'], 2000)
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined && atBound.at - changedAt <= 3000, `${reasons(steps).join(' ')}: at the bound ${(atBound?.at ?? NaN) - changedAt} ms after the change`)
})

noise('tries a heavier load with fewer connections first, and goes straight back up when the step down cost its full share', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: cpuBound(1, 2), maxSize: 4, clients: 100 })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  assert.ok(policy.knee !== undefined && policy.knee <= 4, `knee ${policy.knee}`)
  // Waiting on the server takes 5 ms where the CPU-bound query took 2: the load is heavier at this size.
  pool.model = waitBound(5)
  const changedAt = clock.now()
  const steps = drive(policy, pool, clock, 5000)
  // The connections taken away carried their whole share (a wait-bound load): no knee here, no hold.
  assert.equal(reasons(steps).slice(0, 3), ['descend', 'restore', 'grow'])
  assert.is(steps[1]!.decision.details['kneeHoldMillis'], undefined)
  assert.is(policy.knee, undefined)
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined && atBound.at - changedAt <= 1000, `${reasons(steps).join(' ')}: at the bound ${(atBound?.at ?? NaN) - changedAt} ms after the change`)
})

noise('a descent that kept its steps down and then lost holds between the two sizes: no leap up to the target', () => {
  const { clock, pool, policy } = setup({ model: waitBound(5), clients: 100 })
  drive(policy, pool, clock, 3000)
  assert.is(pool.maxSize, 95)
  // Heavier queries that 18 connections already serve in full (more only share the cores), and 12 serve
  // at 70%: the steps down to 18 are kept, the one to 12 is undone.
  pool.model = measured([[1, 60], [12, 560], [18, 800], [95, 800]])
  const steps = drive(policy, pool, clock, 6000)
  const names = reasons(steps)
  const restore = names.indexOf('restore')
  assert.ok(restore > 0 && names.slice(0, restore).every((name) => name === 'descend'), names.join(' '))
  assert.is(steps[restore]!.decision.size, 18)
  // Above 18 connections were found idle on the way down: the knee is between 12 and 18, held there.
  assert.ok(steps[restore]!.decision.details['kneeHoldMillis'] !== undefined, 'held as a knee')
  assert.ok(steps.slice(restore + 1).every((s) => s.decision.size <= 28), names.join(' '))
})

noise('a descent on a curve that rises slowly stops at the first step that cost a little: small losses do not add up', () => {
  // CPU-bound queries as measured beside a neighbour: 5 connections serve 2,440 q/s, 50 serve 2,720, and
  // each step down of a third from 95 loses 1 to 4%, a knee's share or a little more, noise included.
  const curve = measured([[1, 700], [5, 2440], [20, 2600], [50, 2720], [95, 2580]])
  // +-10% per sample; a fixed pool and the policy get the same sequence for a seed.
  const jitter = (seed: number) => {
    const random = seeded(seed)
    return () => 0.9 + 0.2 * random()
  }
  for (const seed of [1, 2, 3]) {
    const { clock, pool, policy } = setup({ model: waitBound(5), clients: 100, noise: jitter(seed) })
    drive(policy, pool, clock, 3000)
    assert.is(pool.maxSize, 95)
    pool.model = curve
    const before = pool.completed
    const steps = drive(policy, pool, clock, 10_000)
    const served = (pool.completed - before) / 10
    assert.is(reasons(steps)[0], 'descend', reasons(steps).join(' '))
    // Walked down step by step, the pool reached 3 connections and served 0.91 of fixed 50.
    assert.ok(Math.min(...steps.map((s) => s.decision.size)) >= 18, `seed ${seed}: ${reasons(steps).join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}`)
    const best = fixedThroughput({ model: curve, clients: 100, noise: jitter(seed) }, 50, 10_000)
    assert.ok(served >= 0.95 * best, `seed ${seed}: ${served.toFixed(0)} q/s against fixed 50's ${best.toFixed(0)}`)
  }
})

noise('reads a use time up by half at a knee as a heavier load: queries that now wait reach the bound before the knee`s hold ends', () => {
  const cpu = cpuBound(1.5, 2)
  const { clock, pool, policy } = setup({ model: cpu, clients: 100 })
  const before = drive(policy, pool, clock, 3000)
  const knee = before.filter((s) => s.decision.reason === 'autoscale:adaptive-knee').at(-1)
  assert.ok(knee !== undefined && policy.knee !== undefined, reasons(before).join(' '))
  // Waiting on the server now takes 1.7 times what the CPU-bound queries held a connection at the knee:
  // less than double, as when a real database's knee was at a few connections.
  pool.model = waitBound(1.7 * cpu(pool.maxSize))
  const changedAt = clock.now()
  const holdEnds = knee.at + (knee.decision.details['kneeHoldMillis'] as number)
  assert.ok(holdEnds - changedAt >= 1500, `the hold ends ${holdEnds - changedAt} ms after the change`)
  const steps = drive(policy, pool, clock, 3000)
  assert.is(reasons(steps)[0], 'descend', reasons(steps).join(' '))
  const atBound = steps.find((s) => s.decision.size === 95)
  assert.ok(atBound !== undefined && atBound.at - changedAt <= 1000, `${reasons(steps).join(' ')}: at the bound ${(atBound?.at ?? NaN) - changedAt} ms after the change`)
})

noise('follows a load that shifts every 10 s: the bound while queries wait, down to the knee while they burn CPU', () => {
  const { clock, pool, policy } = setup({ model: waitBound(5), clients: 5 })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const models = [waitBound(5), cpuBound(1, 2)]
  let served = 0
  for (let phase = 0; phase < 4; phase++) {
    pool.model = models[phase % 2] as UseTimeModel
    const before = pool.completed
    const steps = drive(policy, pool, clock, 10_000)
    served += pool.completed - before
    if (phase % 2 === 0) assert.is(pool.maxSize, 95, `wait-bound phase ${phase}: ${reasons(steps).join(' ')}`)
    else assert.ok(pool.maxSize <= 10 && reasons(steps).includes('descend'), `CPU-bound phase ${phase}: size ${pool.maxSize}, ${reasons(steps).join(' ')}`)
  }
  const fixed = (size: number) => {
    const model = new ModelPool('fixed', { model: waitBound(5), maxSize: size, clients: 100 })
    for (let phase = 0; phase < 4; phase++) {
      model.model = models[phase % 2] as UseTimeModel
      for (let t = 0; t < 10_000; t += 25) model.advance(25)
    }
    return model.completed
  }
  const best = Math.max(...[5, 20, 50, 95].map(fixed))
  assert.ok(served >= 0.9 * best, `${served} checkouts against ${best}`)
})

noise('checks a step taken while the database still paid for the last grow from above: it comes back down to the knee`s neighbourhood', () => {
  const clock = new ManualClock()
  // Wait-bound queries on a database whose throughput peaks at 56 connections, and that takes twice as
  // long for every query while it pays for the connections a grow opened (5 ms each, after they opened).
  // Judged against windows that still carry that cost, the step to the bound reads as a gain.
  const model = measured([[1, 180], [56, 9000], [95, 8000]])
  const pool = new ModelPool('orders', { model, maxSize: 10, clients: 5, openCostMillis: 5, openingSlowdown: 2 })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const steps = drive(policy, pool, clock, 3000)
  const names = reasons(steps)
  const check = names.indexOf('descend')
  assert.ok(check > 0 && steps[check]!.from > 56, names.join(' '))
  // Back at or near the knee: 63, one step down from the bound, serves 98% of 56's throughput on this curve.
  assert.ok(pool.maxSize >= 56 && pool.maxSize <= 63, `size ${pool.maxSize}: ${names.join(' ')}`)
})

noise('checks the size the calm left from below when noise made the burst`s own step read as paying and the next found the knee: down to a curve`s peak at a few connections', () => {
  // CPU-bound queries on a database that a few connections saturate (as measured on a 2-core machine:
  // 945 q/s at 5 connections, 811 at 50, 765 at 95), so the calm before the burst, at 5 clients, served
  // about as much as the burst can. For the burst's first 300 ms the database runs 20% faster (nobody
  // reports why): against the calm, filling the connections it left idle reads as paying, and the next
  // step finds the knee right above the size the calm left.
  const curve = measured([[1, 250], [5, 945], [14, 880], [50, 811], [95, 765]])
  const clock = new ManualClock()
  let burstAt = Infinity
  const faster = () => clock.now() >= burstAt && clock.now() < burstAt + 300
  const pool = new ModelPool('orders', { model: curve, maxSize: 10, clients: 5, noise: () => (faster() ? 0.8 : 1) })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  burstAt = clock.now()
  const before = pool.completed
  const steps = drive(policy, pool, clock, 10_000)
  const names = reasons(steps)
  const knee = names.indexOf('knee')
  assert.ok(knee > 0 && steps[knee]!.decision.size === steps[0]!.from, `the knee is found right above the size the calm left: ${names.join(' ')}`)
  assert.is(names[knee + 1], 'descend', names.join(' '))
  assert.ok(pool.maxSize < steps[0]!.decision.size, `size ${pool.maxSize}: ${names.join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}`)
  // The same burst for a fixed pool of 5, with the same 300 ms of a faster database (12 steps of 25 ms).
  let advances = 0
  const best = fixedThroughput({ model: curve, clients: 100, noise: () => (advances++ < 12 ? 0.8 : 1) }, 5, 10_000)
  const served = (pool.completed - before) / 10
  assert.ok(served >= 0.95 * best, `${served.toFixed(0)} q/s against fixed 5's ${best.toFixed(0)}: ${names.join(' ')}`)
})

noise('a burst whose own step reads a gain of a few percent at a knee opens nothing: noise on a step that grew the busy connections by 1.4x', () => {
  // 1 ms of CPU per query on 2 cores: 5 clients left 7 connections, past the knee. For the burst's first
  // 400 ms the database runs 3% to 6% faster (nobody reports why): filling the 2 idle connections reads as
  // a gain of 3% to 5% (efficiency 0.06 to 0.14). It climbed to 11, opening 4 connections on a saturated
  // database, before the knee and the check from below brought it down, half a second later. Now the check
  // goes to the 5 connections the calm kept busy, and is kept there.
  for (const faster of [0.97, 0.96, 0.95, 0.94]) {
    const clock = new ManualClock()
    let burstAt = Infinity
    const noise = () => (clock.now() >= burstAt && clock.now() < burstAt + 400 ? faster : 1)
    const pool = new ModelPool('orders', { model: cpuBound(1, 2), maxSize: 10, clients: 5, noise })
    const policy = new AdaptivePolicy(config, { clock })
    drive(policy, pool, clock, 5000)
    const before = pool.maxSize
    pool.clients = 100
    burstAt = clock.now()
    const steps = drive(policy, pool, clock, 2000)
    assert.equal(reasons(steps), ['knee'], `${faster}: ${reasons(steps).join(' ')}`)
    assert.ok(steps[0]!.decision.details['efficiency']! > policy.config.kneeEfficiency, `${faster}: a partial gain, read as noise`)
    assert.ok(steps.every((s) => s.decision.size <= before), `${faster}: nothing opened`)
    assert.is(pool.maxSize, 5)
  }
})

noise('a check from below that was kept ends there: a knee found right above the burst`s first step is checked once, not descended from', () => {
  // 1 ms of CPU per query on 2 cores, 20% faster for the burst's first 300 ms: the burst's own step reads as a
  // leap, the next step finds the knee at the size the calm left, and one step down checks it. Its
  // connections did nothing (the knee is at 4 or below), and a further step down would be judged on noise.
  const clock = new ManualClock()
  let burstAt = Infinity
  const faster = () => clock.now() >= burstAt && clock.now() < burstAt + 300
  const pool = new ModelPool('orders', { model: cpuBound(1, 2), maxSize: 10, clients: 5, noise: () => (faster() ? 0.8 : 1) })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  burstAt = clock.now()
  const steps = drive(policy, pool, clock, 2000)
  const names = reasons(steps)
  assert.equal(names, ['grow', 'knee', 'descend'], names.join(' '))
  assert.equal(steps.map((s) => s.decision.size), [28, 7, 4])
  assert.is(pool.maxSize, 4)
  assert.is(policy.knee, 4)
})

/**
 * A burst on CPU-bound queries whose knee is at 4 connections (2 serve a quarter less), as measured on 2
 * cores: its own step reads as a leap, the next finds the knee at 7, and one step down to 4 is kept. The
 * database then runs `factor` times slower for `millis`, from 1.5 s after that check (nobody reports why).
 */
function slowdownAtCheckedKnee(factor: number, millis: number, curve = measured([[1, 250], [2, 725], [4, 940], [7, 945], [14, 900], [50, 811], [95, 765]])) {
  const clock = new ManualClock()
  let burstAt = Infinity
  let slowAt = Infinity
  const noise = () => {
    const now = clock.now()
    if (now >= burstAt && now < burstAt + 300) return 0.8
    return now >= slowAt && now < slowAt + millis ? factor : 1
  }
  const pool = new ModelPool('orders', { model: curve, maxSize: 10, clients: 5, noise })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 5000)
  pool.clients = 100
  burstAt = clock.now()
  const check = drive(policy, pool, clock, 1000)
  assert.equal(reasons(check), ['grow', 'knee', 'descend'])
  assert.is(pool.maxSize, 4)
  slowAt = clock.now() + 1000
  return { steps: drive(policy, pool, clock, 2500), policy, pool, clock }
}

noise('at a knee checked from below, a slowdown of a few hundred ms is no heavier load: the pool does not step down from the knee', () => {
  for (const [factor, millis] of [[1.7, 200], [1.7, 300], [2, 300]] as const) {
    const { steps } = slowdownAtCheckedKnee(factor, millis)
    // Read as a heavier load after 200 ms, it sent the pool to 2 connections, judged against the slow
    // windows: kept, and held there for 2 s, serving a quarter less.
    assert.ok(!reasons(steps).includes('descend'), `x${factor} for ${millis} ms: ${reasons(steps).join(' ')}`)
    assert.ok(steps.every((s) => s.decision.size >= 4), `x${factor} for ${millis} ms: sizes ${steps.map((s) => s.decision.size).join(' ')}`)
  }
})

noise('at a knee checked from below, a slowdown that ends about when the pool steps down sends it back to the knee', () => {
  // Read as heavier, then over before the step down or during it, the slowdown left the step judged against
  // slow windows: 2 connections at full speed served more than 4 slowed, the step was kept, and the pool
  // held 2 until the knee's hold ended (measured on 2 cores: 1,551 q/s where fixed 5 served 1,802, and the
  // longest tail of the round). 11 of these 28 held 2 until the knee`s hold ended.
  for (const factor of [1.5, 1.7, 2, 3]) {
    for (let millis = 400; millis <= 1000; millis += 100) {
      const { steps } = slowdownAtCheckedKnee(factor, millis)
      const below = steps.findIndex((s) => s.decision.size < 4)
      if (below < 0) continue
      const back = steps[below + 1]
      const heldMillis = back === undefined ? Infinity : back.at - steps[below]!.at
      assert.ok(back?.decision.size === 4 && heldMillis <= 300, `x${factor} for ${millis} ms: ${reasons(steps).join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}, ${heldMillis} ms below the knee`)
    }
  }
})

noise('at a knee, a heavier load that fewer connections serve better is no slowdown that ended: the descent goes on', () => {
  // A wait-bound burst that saturates near 50 connections holds a knee at 63; then the queries burn CPU on
  // a database that loses throughput to contention as connections are added. The step down serves a
  // seventh more than the slow windows before it, which read as the slowdown ending: the pool went back to
  // the knee and held 63 to 95 connections for the whole CPU-bound phase.
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: measured([[1, 180], [7, 1300], [28, 5200], [50, 8300], [95, 8000]]), maxSize: 10, clients: 5 })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  drive(policy, pool, clock, 10_000)
  // (The burst's surge to 95 is checked where its gain puts the knee, just above the saturation near 50.)
  const knee = pool.maxSize
  assert.ok(knee >= 56 && knee <= 70, `knee ${knee}`)
  assert.is(policy.knee, knee)
  const cpu = cpuBound(1, 2, 0.01)
  pool.model = cpu
  const before = pool.completed
  const steps = drive(policy, pool, clock, 10_000)
  const served = pool.completed - before
  assert.is(reasons(steps)[0], 'descend')
  assert.ok(!reasons(steps).includes('restore') && steps.every((s) => s.decision.size < knee), `${reasons(steps).join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}`)
  assert.ok(pool.maxSize <= 5, `size ${pool.maxSize}`)
  const atKnee = new ModelPool('fixed', { model: cpu, maxSize: knee, clients: 100 })
  for (let t = 0; t < 10_000; t += 25) atKnee.advance(25)
  assert.ok(served >= 1.2 * atKnee.completed, `${served} checkouts against ${atKnee.completed} at ${knee} connections`)
})

noise('at a knee, a heavier load whose knee lies lower keeps the step down it starts', () => {
  // After the check from below, the queries get twice as heavy, and 2 connections serve what 4 do.
  const { policy, pool, clock } = slowdownAtCheckedKnee(1, 0)
  assert.is(policy.knee, 4)
  pool.model = measured([[1, 250], [2, 470], [4, 470], [7, 465], [14, 440], [95, 380]])
  const steps = drive(policy, pool, clock, 3000)
  assert.equal(reasons(steps).slice(0, 1), ['descend'], reasons(steps).join(' '))
  assert.ok(steps.every((s) => s.decision.size <= 3), `${reasons(steps).join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}`)
  assert.ok(pool.maxSize <= 3, `size ${pool.maxSize}`)
})

noise('at a knee, a load that stays heavier still starts a descent, which says why, and goes back when it cost', () => {
  const { steps } = slowdownAtCheckedKnee(1.7, 2000)
  const names = reasons(steps)
  assert.equal(names.slice(0, 2), ['descend', 'restore'], names.join(' '))
  const ratio = steps[0]!.decision.details['heavierUseRatio']
  assert.ok(ratio !== undefined && ratio >= 1.5 && ratio <= 1.8, `heavierUseRatio ${ratio}`)
  assert.ok(steps[0]!.decision.details['previousMeanUseMillis'] !== undefined, 'the use time it was compared with')
  assert.is(steps[1]!.decision.size, 4)
})

noise('at a knee, a descent undone at part of its share climbs half a probe: no leap into the knee', () => {
  // Traced on 2 cores beside a neighbour: a heavier reading at a CPU-bound knee of 4 stepped down to 2, which
  // served 0.7 of what 4 did (the removed connections carried 0.6 of their share), was undone, and the pool
  // leapt 4 -> 16 -> 95 into the knee for the burst's last 1.5 s (its p99 0.63 of fixed 5's).
  const curve = measured([[1, 250], [2, 660], [4, 940], [7, 945], [14, 900], [50, 811], [95, 765]])
  const { steps } = slowdownAtCheckedKnee(1.7, 2000, curve)
  const names = reasons(steps)
  const restore = names.indexOf('restore')
  assert.ok(restore > 0, names.join(' '))
  const efficiency = steps[restore]!.decision.details['efficiency']!
  assert.ok(efficiency >= 0.5 && efficiency < 0.85, `efficiency ${efficiency}: ${names.join(' ')}`)
  assert.ok(steps.every((s) => s.decision.size <= 7), `${names.join(' ')} to ${steps.map((s) => s.decision.size).join(' ')}`)
})

noise('above a knee on a flat curve, noise does not walk the pool up one probe at a time', () => {
  // CPU-bound queries whose knee is at 4 connections and whose throughput stays within 5% of it up to 14,
  // on a database that runs up to 10% faster or slower for 200 ms at a time (nobody reports why). A probe
  // above the knee read such a moment as a gain of 2.5% and climbed, and the knee never came back down:
  // 4 -> 6 -> 9 -> 14 -> 21 -> 32 in 20 s for one seed. Now at most three half-probes above the knee that the
  // check from below left (4 or 5 connections: 4 -> 6 -> 9 -> 14, 5 -> 8 -> 12 -> 18), each found to be a knee
  // and left again, and a pool of 8 connections or fewer on average.
  const curve = measured([[1, 250], [2, 725], [4, 940], [7, 945], [14, 900], [50, 811], [95, 765]])
  for (let seed = 1; seed <= 10; seed++) {
    const clock = new ManualClock()
    const random = seeded(seed)
    let level = 1
    let until = 0
    const noise = () => {
      if (clock.now() >= until) [level, until] = [0.9 + 0.2 * random(), clock.now() + 200]
      return level
    }
    const pool = new ModelPool('orders', { model: curve, maxSize: 10, clients: 5, noise })
    const policy = new AdaptivePolicy(config, { clock })
    drive(policy, pool, clock, 3000)
    pool.clients = 100
    let sizeMillis = 0
    const steps: Step[] = []
    for (let t = 0; t < 20_000; t += 100) {
      steps.push(...drive(policy, pool, clock, 100))
      sizeMillis += pool.maxSize * 100
    }
    const sizes = steps.map((s) => s.decision.size)
    assert.ok(Math.max(...sizes) <= 18, `seed ${seed}: ${reasons(steps).join(' ')} to ${sizes.join(' ')}`)
    assert.ok(sizeMillis / 20_000 <= 8, `seed ${seed}: ${(sizeMillis / 20_000).toFixed(1)} connections on average`)
  }
})


noise('judges a step of many connections once they have warmed up: the new backends` first queries are no knee', () => {
  // Wait-bound queries whose throughput this process limits (as measured on 2 cores beside a neighbour:
  // 4.9k q/s at 28 connections, 10k at 95). The connections a grow opens open one every 5 ms, and each
  // owes the database 10 ms once open, during which every query takes four times as long: the slowdown
  // outlasts the opening by about as long as the opening took, as measured.
  const model = measured([[1, 180], [7, 1250], [28, 4900], [95, 10_000]])
  const { clock, pool, policy } = setup({ model, clients: 5, openTimeMillis: 5, openCostMillis: 10, openingSlowdown: 4 })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const steps = drive(policy, pool, clock, 3000)
  const names = reasons(steps)
  assert.not.ok(names.includes('knee'), names.join(' '))
  assert.is(pool.maxSize, 95, names.join(' '))
})

// New connections open 100 a second and cost the database 5 ms each after they open, at twice the time per query.
const opening = { openCostMillis: 5, openingSlowdown: 2, openTimeMillis: 10 }

noise('a dip that made a wait-bound burst`s own step read as a knee is refuted by the check from below: the pool climbs on at once', () => {
  const clock = new ManualClock()
  // Seeded so that a dip falls on the windows that judge the burst's own step: 7 connections read as serving
  // no more than the calm's 5, a knee.
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 5, noise: withDips(seeded(5)), ...opening })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const burstAt = clock.now()
  const steps = drive(policy, pool, clock, 1500)
  const names = reasons(steps)
  assert.equal(names.slice(0, 2), ['knee', 'restore'], names.join(' '))
  // The connections the check took away carried their full share: no knee at 7 holds the burst there for
  // `reprobeMillis` (it did, before: 7 connections for 2 s of a burst that fills 95).
  assert.ok(steps[1]!.decision.details['efficiency']! >= policy.config.leapEfficiency)
  assert.is(policy.knee, undefined)
  assert.is(pool.maxSize, 95, steps.map((s) => `${s.at - burstAt}:${s.decision.size}`).join(' '))
})

noise('a dip that refutes a CPU-bound burst`s knee costs half a probe: the knee is found again and the burst still serves as a fixed pool at it', () => {
  const clock = new ManualClock()
  // Seeded so that a dip falls on the check from below: 5 connections read as serving a quarter less than 7.
  const options = { model: cpuBound(1, 2), clients: 100, noise: withDips(seeded(2)), ...opening }
  const pool = new ModelPool('orders', { ...options, maxSize: 10, clients: 5 })
  const policy = new AdaptivePolicy(config, { clock })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const before = pool.completed
  const steps = drive(policy, pool, clock, 10_000)
  const names = reasons(steps)
  assert.equal(names.slice(0, 3), ['knee', 'restore', 'probe'], names.join(' '))
  assert.is(steps[2]!.decision.size, Math.ceil(steps[2]!.from * 1.5))
  assert.ok(names.slice(3).includes('knee'), names.join(' '))
  const served = ((pool.completed - before) * 1000) / 10_000
  const best = Math.max(...[4, 5, 7, 10].map((size) => fixedThroughput({ ...options, noise: withDips(seeded(2)) }, size, 10_000)))
  assert.ok(served >= 0.9 * best, `${served.toFixed(0)} q/s against ${best.toFixed(0)}: ${names.join(' ')}`)
})

noise('the check from above a wait-bound ramp waits until the new connections have warmed up: a step down is not judged on their cost', () => {
  // The ramp's last step (28 -> 95) is quick, so a step down from 95 checks it. Judged on windows while 67
  // connections open and cost the database, 63 served more than 95 had: the step down was kept, the next
  // one went to 42, and the pool held 63 for the knee's hold (27% less than fixed 95 over the burst).
  const options = { model: waitBound(5), noise: withDips(seeded(1)), ...opening }
  const { clock, pool, policy } = setup({ ...options, clients: 5 })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const before = pool.completed
  const steps = drive(policy, pool, clock, 10_000)
  const names = reasons(steps)
  // One step down, judged on warmed-up connections, and undone at once.
  assert.equal(names, ['grow', 'grow', 'descend', 'restore'])
  assert.ok(steps[3]!.at - steps[2]!.at <= 300, `${steps[3]!.at - steps[2]!.at} ms at 63`)
  // The fixed pool opens no connection during the burst: the ramp itself costs about a tenth.
  const served = ((pool.completed - before) * 1000) / 10_000
  const fixed95 = fixedThroughput({ ...options, noise: withDips(seeded(1)), clients: 100 }, 95, 10_000)
  assert.ok(served >= 0.85 * fixed95, `${served.toFixed(0)} q/s against ${fixed95.toFixed(0)}: ${names.join(' ')}`)
})

// Wait-bound queries on a database that saturates between 28 and 95 connections, as measured on a slower
// 2-core machine (5.2k q/s at 28 connections, 8.3k at 50, 8.0k at 95): the ramp's leap to 95 gains a
// part of its share, and all of it from its first connections.
const saturatesNear50 = measured([[1, 180], [7, 1300], [28, 5200], [50, 8300], [95, 8000]])

/** A calm of 5 clients, then a burst of 100 for `millis`: the decisions, the queries/s and the mean size. */
function burstInto(options: Omit<ModelPoolOptions, 'maxSize' | 'clients'>, millis: number) {
  const { clock, pool, policy } = setup({ ...options, clients: 5 })
  drive(policy, pool, clock, 3000)
  pool.clients = 100
  const before = pool.completed
  const steps: Step[] = []
  let sizeMillis = 0
  for (let t = 0; t < millis; t += 100) {
    steps.push(...drive(policy, pool, clock, 100))
    sizeMillis += 100 * pool.maxSize
  }
  return { steps, names: reasons(steps), served: ((pool.completed - before) * 1000) / millis, meanSize: sizeMillis / millis }
}

for (const { how, seed, extra } of [
  { how: 'judged on settled windows, it paid in part', seed: 8, extra: {} },
  { how: 'taken before any window at 28 could judge it', seed: 7, extra: opening },
]) {
  // (A fresh noise source for each pool, seeded alike.)
  const options = () => ({ model: saturatesNear50, noise: withDips(seeded(seed)), ...extra })
  noise(`a leap past the knee (${how}) is checked from above once: the pool holds the size below it, and no descent follows`, () => {
    const { steps, names, served, meanSize } = burstInto(options(), 20_000)
    const trail = steps.map((s) => `${s.decision.reason.replace('autoscale:adaptive-', '')} ${s.from}->${s.decision.size}`).join(', ')
    // The burst's own step paid in full (7 connections serve 1.3k q/s, 5 in the calm): one step to the bound.
    assert.equal(names.slice(0, 2), ['grow', 'descend'], trail)
    assert.is(steps[1]!.from, 95)
    // The check goes where the surge's gain puts the knee (near the saturation at 50) and ends after that
    // one step: no size below it, and a probe back above it finds the knee there.
    const checked = steps[1]!.decision.size
    assert.ok(checked >= 50 && checked <= 70, trail)
    assert.ok(steps.every((s) => s.decision.size >= checked || s.from <= 7), trail)
    // Before, the pool held 95 for the whole burst.
    assert.ok(meanSize <= 80, `mean size ${meanSize.toFixed(0)}: ${trail}`)
    // (Each probe back to 95 opens its connections again here: the model keeps none for `keepSurplusMillis`.)
    const fixed95 = fixedThroughput({ ...options(), clients: 100 }, 95, 20_000)
    assert.ok(served >= 0.95 * fixed95, `${served.toFixed(0)} q/s against ${fixed95.toFixed(0)}: ${trail}`)
  })
}

noise.run()
