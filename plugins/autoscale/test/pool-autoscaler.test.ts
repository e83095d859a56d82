import { InvalidOptionError, RegistrationError, type ResizeEvent } from '@lifeguard/core'
import { ManualClock as TimerClock, throwsError, captureWarnings } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, attachAutoscaler, createSharedBudget, type AdaptivePoolConfig, type DynamicPoolConfig, type EvaluationInput, type ScalingPolicy } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, waitBound } from './_helpers/model-pool.js'

const threshold: DynamicPoolConfig = {
  enabled: true,
  minSize: 2,
  maxSize: 20,
  scaleUpThreshold: 80,
  scaleDownThreshold: 30,
  scaleUpIncrement: 4,
  scaleDownIncrement: 2,
  evaluationInterval: 1000,
}
const adaptive: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

/** Runs `millis` of model time through a manually driven autoscaler. */
function run(scaler: { sample(): void; evaluate(): unknown; policy: ScalingPolicy }, pool: ModelPool, clock: ManualClock, millis: number): void {
  const every = scaler.policy.sampleIntervalMillis
  for (let t = every; t <= millis; t += every) {
    clock.advance(every)
    pool.advance(every)
    if (t % scaler.policy.evaluationIntervalMillis === 0) scaler.evaluate()
    else scaler.sample()
  }
}

const runtime = suite('attachAutoscaler')

runtime('turns each decision into a resize event with the reason and the numbers behind it', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const events: ResizeEvent[] = []
  pool.on('resize', (event) => void events.push(event))
  const scaler = attachAutoscaler(pool, threshold, { clock, timers: false })
  run(scaler, pool, clock, 1000)
  assert.is(events.length, 1)
  const event = events[0]!
  assert.equal([event.pool, event.previous.maxSize, event.next.maxSize, event.reason], ['orders', 10, 14, 'autoscale:threshold-up'])
  assert.is(event.details?.['utilization'], 100)
  assert.is(event.details?.['threshold'], 80)
  assert.equal(scaler.lastDecision?.size, 14)
  scaler.stop()
})

runtime('sizes a pool through a step load with the adaptive policy', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 5 })
  const scaler = attachAutoscaler(pool, adaptive, { clock, timers: false })
  run(scaler, pool, clock, 3000)
  assert.is(pool.maxSize, 6)
  pool.clients = 100
  run(scaler, pool, clock, 1000)
  assert.is(pool.maxSize, 95)
  pool.clients = 5
  run(scaler, pool, clock, 3000)
  assert.is(pool.maxSize, 6)
  // The burst's first step fills the connection the calm left idle (no resize); it pays in full, and one
  // step serves every request waiting.
  assert.equal(
    pool.resizes.map((r) => r.options?.reason),
    ['autoscale:adaptive-shrink', 'autoscale:adaptive-grow', 'autoscale:adaptive-shrink'],
  )
})

runtime('the adaptive policy keeps the connections its shrinks leave over; shrinks for the bounds or the budget do not', async () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 5 })
  const scaler = attachAutoscaler(pool, adaptive, { clock, timers: false })
  run(scaler, pool, clock, 3000)
  assert.equal(pool.resizes.map((r) => [r.options?.reason, r.options?.keepSurplusMillis]), [['autoscale:adaptive-shrink', 30_000]])
  scaler.stop()
  const bounded = new ModelPool('orders', { model: waitBound(5), maxSize: 200 })
  attachAutoscaler(bounded, adaptive, { timers: false })
  assert.equal(bounded.resizes.map((r) => [r.options?.reason, r.options?.keepSurplusMillis]), [['autoscale:bounds', undefined]])
  const budgeted = new ModelPool('orders', { model: waitBound(5), maxSize: 30, clients: 5 })
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 100 }] }), clock })
  // Kept connections asked for explicitly (with a budget the default keeps none): the budget's shrink still closes.
  const underBudget = attachAutoscaler(budgeted, { ...adaptive, budget, keepSurplusMillis: 5000 }, { clock, timers: false })
  await underBudget.refreshBudget()
  underBudget.evaluate()
  assert.equal(budgeted.resizes.map((r) => [r.options?.reason, r.options?.keepSurplusMillis]), [['autoscale:budget', undefined]])
  underBudget.stop()
})

runtime('with keepSurplusMillis: 0 the adaptive policy closes what it sheds at once', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 5 })
  const scaler = attachAutoscaler(pool, { ...adaptive, keepSurplusMillis: 0 }, { clock, timers: false })
  run(scaler, pool, clock, 3000)
  assert.equal(pool.resizes.map((r) => [r.options?.reason, r.options?.keepSurplusMillis]), [['autoscale:adaptive-shrink', undefined]])
  scaler.stop()
})

runtime('moves a pool outside the bounds inside them at once', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 50 })
  const scaler = attachAutoscaler(pool, threshold, { timers: false })
  assert.is(pool.maxSize, 20)
  assert.is(pool.resizes[0]?.options?.reason, 'autoscale:bounds')
  scaler.stop()
})

runtime('lowers the pool`s minSize with its maxSize, and restores it when the pool grows back', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, minSize: 5, clients: 0 })
  const scaler = attachAutoscaler(pool, { ...threshold, scaleDownIncrement: 8 }, { clock, timers: false })
  run(scaler, pool, clock, 1000)
  assert.equal(pool.resizes[0]?.size, { minSize: 2, maxSize: 2 })
  pool.clients = 10
  run(scaler, pool, clock, 1000)
  assert.equal(pool.resizes[1]?.size, { minSize: 5, maxSize: 6 })
  scaler.stop()
})

runtime('a minSize the user sets while the autoscaler runs is kept: not reset to the one it found, nor raised back', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, minSize: 0, clients: 0 })
  const scaler = attachAutoscaler(pool, { ...threshold, scaleDownIncrement: 1 }, { clock, timers: false })
  pool.resize({ minSize: 3 })
  run(scaler, pool, clock, 1000)
  assert.equal(pool.resizes.at(-1)?.size, { maxSize: 9 }, 'the shrink leaves the user`s minSize alone')
  assert.is(pool.getPoolMetrics().minSize, 3)
  // Lowered with maxSize below it, then the user lowers it further: growing back does not raise it again.
  run(scaler, pool, clock, 7000)
  assert.equal([pool.getPoolMetrics().minSize, pool.maxSize], [2, 2])
  pool.resize({ minSize: 1 })
  pool.clients = 10
  run(scaler, pool, clock, 1000)
  assert.equal(pool.resizes.at(-1)?.size, { maxSize: 6 })
  assert.is(pool.getPoolMetrics().minSize, 1)
  scaler.stop()
})

runtime('the pool`s own minSize survives a config change or a new autoscaler while it is lowered', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, minSize: 5, clients: 0 })
  const config = { ...threshold, scaleDownIncrement: 8 }
  const first = attachAutoscaler(pool, config, { clock, timers: false })
  run(first, pool, clock, 1000)
  assert.equal([pool.getPoolMetrics().minSize, pool.maxSize], [2, 2])
  first.stop()
  const second = attachAutoscaler(pool, { ...config, scaleUpThreshold: 75 }, { clock, timers: false })
  pool.clients = 10
  run(second, pool, clock, 1000)
  assert.equal(pool.resizes.at(-1)?.size, { minSize: 5, maxSize: 6 }, 'restored to the pool`s own 5, not the 2 it found')
  second.stop()
})

runtime('a minSize the user set after an autoscaler stopped is the pool`s own, even when it equals the one that autoscaler left', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, minSize: 5, clients: 0 })
  const first = attachAutoscaler(pool, { ...threshold, scaleDownIncrement: 8 }, { clock, timers: false })
  run(first, pool, clock, 1000)
  assert.equal([pool.getPoolMetrics().minSize, pool.maxSize], [2, 2], 'lowered from 5')
  first.stop()
  pool.resize({ minSize: 3, maxSize: 4 })
  const second = attachAutoscaler(pool, { ...threshold, scaleUpIncrement: 4 }, { clock, timers: false })
  // The user's 2, by chance the minSize the first autoscaler left: not taken for its lowering of 5.
  pool.resize({ minSize: 2 })
  pool.clients = 10
  run(second, pool, clock, 1000)
  assert.equal(pool.resizes.at(-1)?.size, { maxSize: 8 })
  assert.is(pool.getPoolMetrics().minSize, 2)
  second.stop()
})

runtime('stop() ends evaluation and leaves the pool at its current size', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const scaler = attachAutoscaler(pool, threshold, { clock, timers: false })
  run(scaler, pool, clock, 1000)
  assert.is(pool.maxSize, 14)
  scaler.stop()
  assert.is(scaler.running, false)
  run(scaler, pool, clock, 5000)
  assert.is(pool.maxSize, 14)
  assert.is(pool.resizes.length, 1)
})

runtime('stops by itself once the pool closes', async () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const scaler = attachAutoscaler(pool, threshold, { clock, timers: false })
  await pool.close()
  run(scaler, pool, clock, 2000)
  assert.is(scaler.running, false)
  assert.is(pool.resizes.length, 0)
})

runtime('a pool closed on its own stops its autoscaler at once: running says so, the budget is no longer read', async () => {
  const clock = new TimerClock()
  // Short of connections with room in the budget: read every refreshMillis.
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  let reads = 0
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => (reads++, { rows: [{ held: 10 }] }), clock, refreshMillis: 250 })
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, { ...threshold, evaluationInterval: 60_000, sampleIntervalMillis: 60_000, budget }, { clock, onError: (error) => errors.push(error) })
  await clock.advance(500)
  const readsOpen = reads
  assert.ok(readsOpen >= 2, `read ${readsOpen} times`)
  await pool.close()
  assert.is(scaler.running, false, 'before any timer fires')
  await clock.advance(5_000)
  assert.is(reads, readsOpen, 'no budget query on a closed pool')
  assert.equal(errors, [])
  assert.is(clock.pendingTimers, 0)
})

runtime('attached to a pool closed already, it does not start and resizes nothing', async () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 50, clients: 0 })
  await pool.close()
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, threshold, { timers: false, onError: (error) => errors.push(error) })
  assert.is(scaler.running, false)
  assert.equal(pool.resizes, [])
  assert.equal(errors, [])
})

runtime('reports a failing resize to onError and keeps running', () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  pool.resize = () => {
    throw new Error('resize refused')
  }
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, threshold, { clock, timers: false, onError: (error) => errors.push(error) })
  run(scaler, pool, clock, 2000)
  // Refused at every evaluation: the same failure is reported once every 10 s, not once a second.
  assert.is(errors.length, 1)
  assert.match((errors[0] as Error).message, 'resize refused')
  run(scaler, pool, clock, 10_000)
  assert.is(errors.length, 2)
  assert.ok(scaler.running)
  scaler.stop()
})

runtime('warns through process.emitWarning when no onError is given', async () => {
  const warnings = await captureWarnings(() => {
    const clock = new ManualClock()
    const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
    pool.resize = () => {
      throw new Error('resize refused')
    }
    const scaler = attachAutoscaler(pool, threshold, { clock, timers: false })
    run(scaler, pool, clock, 1000)
    scaler.stop()
  })
  assert.is(warnings.length, 1)
  assert.is(warnings[0]?.code, 'LIFEGUARD_AUTOSCALE_FAILED')
  assert.match(warnings[0]?.message ?? '', 'resize refused')
})

runtime("a policy, or an onError, that throws is reported and the autoscaler goes on: nothing escapes its timers", async () => {
  const clock = new TimerClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  let observed = 0
  let throwing = true
  const policy: ScalingPolicy = {
    kind: 'flaky',
    minSize: 1,
    maxSize: 20,
    evaluationIntervalMillis: 1000,
    sampleIntervalMillis: 100,
    observe() {
      observed++
      if (throwing) throw new Error('policy bug')
    },
    evaluate: () => ({ size: 12, reason: 'autoscale:flaky', details: {} }),
  }
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, policy, { clock, onError: (error) => errors.push(error) })
  await clock.advance(1000)
  assert.is(errors.length, 1, 'thrown at every sample, reported once (again after 10 s)')
  assert.match((errors[0] as Error).message, 'policy bug')
  throwing = false
  const before = observed
  await clock.advance(1000)
  assert.ok(observed > before, 'still sampling')
  assert.is(pool.maxSize, 12, 'and sizing')
  scaler.stop()

  // An onError that fails (a logger that is down) becomes a process warning; the autoscaler still goes on.
  throwing = true
  const warnings = await captureWarnings(async () => {
    const other = attachAutoscaler(pool, policy, {
      clock,
      onError: () => {
        throw new Error('logger down')
      },
    })
    await clock.advance(300)
    const sampled = observed
    await clock.advance(300)
    assert.ok(observed > sampled, 'still sampling')
    other.stop()
  })
  assert.is(warnings.length, 1)
  assert.is(warnings[0]?.code, 'LIFEGUARD_AUTOSCALE_ON_ERROR_FAILED')
  assert.match(warnings[0]?.message ?? '', "The onError of the autoscaler of pool 'orders' failed: logger down. It was reporting: policy bug")

  // An async onError that rejects: a warning too, not an unhandled rejection.
  const rejected = await captureWarnings(async () => {
    const other = attachAutoscaler(pool, policy, { clock, onError: async () => Promise.reject(new Error('async logger down')) })
    await clock.advance(300)
    other.stop()
    await new Promise((resolve) => setImmediate(resolve))
  })
  assert.ok(rejected.length >= 1)
  assert.match(rejected[0]?.message ?? '', 'failed: async logger down. It was reporting: policy bug')
})

runtime('keeps the pool within a shared budget read from the server', async () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 100 })
  // Other instances hold 70 of 90: this one may have its 10 plus half of the 10 free.
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 80 }] }), clock })
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { clock, timers: false })
  await scaler.refreshBudget()
  assert.is(budget.reading?.limit, 15)
  run(scaler, pool, clock, 2000)
  assert.is(pool.maxSize, 15)
  assert.ok(pool.resizes.every((r) => (r.size.maxSize ?? 0) <= 15))
  scaler.stop()
})

runtime('runs on its clock`s timers: samples and evaluates by itself, and stop() clears them', async () => {
  const clock = new TimerClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const scaler = attachAutoscaler(pool, threshold, { clock })
  assert.is(clock.pendingTimers, 1, 'one timer: the next tick')
  await clock.advance(999)
  assert.is(pool.resizes.length, 0)
  await clock.advance(1)
  assert.is(pool.resizes.length, 1, 'evaluated after evaluationInterval')
  assert.is(pool.resizes[0]?.options?.reason, 'autoscale:threshold-up')
  scaler.stop()
  assert.is(clock.pendingTimers, 0)
  await clock.advance(5000)
  assert.is(pool.resizes.length, 1)
})

runtime('by default runs on unref`d timers: they never keep the process alive', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const timeouts = () => process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length
  const before = timeouts()
  const scaler = attachAutoscaler(pool, { ...threshold, evaluationInterval: 20 })
  // getActiveResourcesInfo lists only timers that keep the process alive.
  assert.is(timeouts(), before, 'no timer keeps the process alive')
  scaler.stop()
})

runtime('gives the policy this process`s event-loop delay and utilization with each evaluation', async () => {
  const clock = new TimerClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const inputs: EvaluationInput[] = []
  const recording: ScalingPolicy = {
    kind: 'recording', minSize: 1, maxSize: 100, evaluationIntervalMillis: 100, sampleIntervalMillis: 50,
    observe: () => undefined,
    evaluate: (input) => void inputs.push(input),
  }
  const scaler = attachAutoscaler(pool, recording, { clock })
  await clock.advance(200)
  scaler.stop()
  assert.is(inputs.length, 2)
  assert.ok(inputs.every((input) => typeof input.eventLoopDelayMillis === 'number' && input.eventLoopDelayMillis >= 0))
  assert.ok(inputs.every((input) => typeof input.eventLoopUtilization === 'number' && input.eventLoopUtilization >= 0 && input.eventLoopUtilization <= 1))
  const manual = attachAutoscaler(pool, recording, { clock, timers: false })
  manual.evaluate()
  assert.is(inputs[2]?.eventLoopDelayMillis, undefined, 'not measured without timers')
  assert.is(inputs[2]?.eventLoopUtilization, undefined, 'not measured without timers')
})

runtime('evaluates early when the policy says it is due', async () => {
  const clock = new TimerClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  let evaluations = 0
  const eager: ScalingPolicy = {
    kind: 'eager',
    minSize: 1,
    maxSize: 100,
    // Left to the interval, the first evaluation would come after a minute.
    evaluationIntervalMillis: 60_000,
    sampleIntervalMillis: 5,
    observe: () => undefined,
    evaluate: () => {
      evaluations++
      return undefined
    },
    dueInMillis: () => 0,
  }
  const scaler = attachAutoscaler(pool, eager, { clock })
  await clock.advance(15)
  scaler.stop()
  assert.is(evaluations, 3, 'one per tick')
})

runtime('does not start on a disabled config', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 50, clients: 50 })
  const scaler = attachAutoscaler(pool, { ...threshold, enabled: false })
  assert.is(scaler.running, false)
  assert.is(pool.maxSize, 50)
})

runtime('rejects bad configs and options naming the field', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10 })
  const config = throwsError(() => attachAutoscaler(pool, { ...threshold, scaleUpIncrement: 0 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(config.option, 'scaleUpIncrement')
  assert.match(config.message, `pool 'orders'`)
  const option = throwsError(() => attachAutoscaler(pool, threshold, { timers: 'yes' as unknown as boolean }), InvalidOptionError)
  assert.is(option.option, 'timers')
  const notPool = throwsError(() => attachAutoscaler({} as ModelPool, threshold), InvalidOptionError)
  assert.is(notPool.option, 'pool')
})

runtime('refuses a policy of your own that lacks what the autoscaler reads, naming the field', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 50, clients: 50 })
  const base: ScalingPolicy = { kind: 'mine', minSize: 1, maxSize: 10, evaluationIntervalMillis: 1000, sampleIntervalMillis: 100, observe: () => undefined, evaluate: () => undefined }
  const field = (policy: object): string => throwsError(() => attachAutoscaler(pool, policy as ScalingPolicy, { timers: false }), InvalidOptionError).option
  assert.is(field({ ...base, sampleIntervalMillis: undefined }), 'policy.sampleIntervalMillis')
  assert.is(field({ ...base, sampleIntervalMillis: Number.NaN }), 'policy.sampleIntervalMillis')
  assert.is(field({ ...base, evaluationIntervalMillis: -5 }), 'policy.evaluationIntervalMillis')
  assert.is(field({ ...base, maxSize: Number.NaN }), 'policy.maxSize')
  assert.is(field({ ...base, minSize: 11 }), 'policy.minSize')
  // A policy's minSize is the lowest maxSize it sets: 0 would let a shared budget bring the pool to none.
  assert.is(field({ ...base, minSize: 0 }), 'policy.minSize')
  assert.is(field({ ...base, kind: '' }), 'policy.kind')
  assert.is(field({ ...base, dueInMillis: 5 }), 'policy.dueInMillis')
  assert.is(field({ ...base, sampleIntervalMillis: base.evaluationIntervalMillis + 1 }), 'policy.sampleIntervalMillis')
  // One method forgotten: named, not read as a config with unknown options.
  assert.is(field({ ...base, evaluate: undefined }), 'policy.evaluate')
  assert.is(field({ ...base, observe: 'yes' }), 'policy.observe')
  // A config with a slip of the pen (`evaluate` for `evaluationInterval`) is still a config.
  assert.is(throwsError(() => attachAutoscaler(pool, { ...threshold, evaluate: 1000 } as never, { timers: false }), InvalidOptionError).option, 'evaluate')
  attachAutoscaler(pool, base, { timers: false }).stop()
})

runtime('one autoscaler sizes a pool at a time: a second is refused until the first stops', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 50, clients: 50 })
  const first = attachAutoscaler(pool, adaptive, { timers: false })
  const error = throwsError(() => attachAutoscaler(pool, { ...adaptive, minSize: 6 }, { timers: false }), RegistrationError)
  assert.match(error.message, "Pool 'orders' is sized by an autoscaler already. Stop it (`stop()`) before attaching another.")
  first.stop()
  const second = attachAutoscaler(pool, { ...adaptive, minSize: 6 }, { timers: false })
  assert.ok(second.running)
  second.stop()
  // A disabled config sizes nothing, and takes no place.
  assert.is(attachAutoscaler(pool, { ...threshold, enabled: false }).running, false)
  attachAutoscaler(pool, adaptive, { timers: false }).stop()
})

runtime('one budget reads for one pool: a second running autoscaler on another pool is refused it, naming budget', () => {
  const clock = new ManualClock()
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 0 }] }), clock })
  const orders = new ModelPool('orders', { model: waitBound(5), maxSize: 50 })
  const billing = new ModelPool('billing', { model: waitBound(5), maxSize: 50 })
  const first = attachAutoscaler(orders, { ...adaptive, budget }, { timers: false, clock })
  const error = throwsError(() => attachAutoscaler(billing, { ...adaptive, budget }, { timers: false, clock }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'budget')
  assert.match(error.message, "in use by the autoscaler of pool 'orders': use one budget per pool")
  first.stop()
  const second = attachAutoscaler(billing, { ...adaptive, budget }, { timers: false, clock })
  assert.ok(second.running, 'free again once the first stopped')
  second.stop()
})

runtime('one policy object sizes one pool: a second running autoscaler on another pool is refused it, naming policy', () => {
  const clock = new ManualClock()
  const policy = new AdaptivePolicy(adaptive, { clock })
  const orders = new ModelPool('orders', { model: waitBound(5), maxSize: 50 })
  const billing = new ModelPool('billing', { model: waitBound(5), maxSize: 50 })
  const first = attachAutoscaler(orders, policy, { timers: false, clock })
  const error = throwsError(() => attachAutoscaler(billing, policy, { timers: false, clock }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'policy')
  assert.match(error.message, "this one sizes pool 'orders': a policy keeps one pool's measurements")
  first.stop()
  // A frozen policy object is claimed all the same.
  const frozen = Object.freeze(new AdaptivePolicy(adaptive, { clock }))
  const frozenFirst = attachAutoscaler(orders, frozen, { timers: false, clock })
  assert.is(throwsError(() => attachAutoscaler(billing, frozen, { timers: false, clock }), InvalidOptionError).option, 'policy')
  frozenFirst.stop()
  const second = attachAutoscaler(billing, policy, { timers: false, clock })
  assert.ok(second.running, 'free again once the first stopped')
  second.stop()
})

runtime('a stopped autoscaler leaves no reference to itself (and its pool) on the budget or the policy it used', () => {
  const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 10 }] }) })
  const policy = new AdaptivePolicy({ ...adaptive, budget })
  const scaler = attachAutoscaler(new ModelPool('orders', { model: waitBound(5), maxSize: 50 }), policy, { timers: false })
  const claimsOf = (key: string) => (globalThis as Record<symbol, unknown>)[Symbol.for(key)] as WeakMap<object, unknown>
  const [policyClaims, budgetClaims] = [claimsOf('lifeguard.autoscale.policyClaims'), claimsOf('lifeguard.autoscale.budgetClaims')]
  assert.ok(budgetClaims.get(budget) === scaler && policyClaims.get(policy) === scaler, 'claimed while running')
  scaler.stop()
  assert.not.ok(budgetClaims.has(budget), 'budget')
  assert.not.ok(policyClaims.has(policy), 'policy')
  assert.equal(Object.getOwnPropertySymbols(budget), [], 'nothing written on the budget')
})

runtime('refuses a budget that counts through the pool it sizes: the count would wait in line behind the requests it should relieve', () => {
  const emptyCount = async (): Promise<{ rows: { held: number }[] }> => ({ rows: [{ held: 0 }] })
  const pool = Object.assign(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { query: emptyCount })
  const throughItself = createSharedBudget({ total: 20, applicationName: 'orders-api', query: pool })
  const error = throwsError(() => attachAutoscaler(pool, { ...adaptive, budget: throughItself }, { timers: false }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'budget')
  assert.match(error.message, `pool 'orders'`)
  assert.match(error.message, "a client of its own")
  // A client (or pool) of its own is taken.
  const ownClient = createSharedBudget({ total: 20, applicationName: 'orders-api', query: { query: emptyCount } })
  attachAutoscaler(pool, { ...adaptive, budget: ownClient }, { timers: false }).stop()
})

runtime('holds a policy of your own to its bounds: a size outside them is brought inside, one that is no size is reported', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 5, clients: 50 })
  const errors: unknown[] = []
  let next = 500
  const mine: ScalingPolicy = {
    kind: 'mine', minSize: 2, maxSize: 10, evaluationIntervalMillis: 1000, sampleIntervalMillis: 100,
    observe: () => undefined,
    evaluate: () => ({ size: next, reason: 'autoscale:adaptive-grow', details: {} }),
  }
  const scaler = attachAutoscaler(pool, mine, { timers: false, onError: (error) => void errors.push(error) })
  assert.equal(scaler.evaluate(), { size: 10, reason: 'autoscale:bounds', details: { minSize: 2, maxSize: 10 } })
  assert.is(pool.getPoolMetrics().maxSize, 10)
  next = 1
  assert.is(scaler.evaluate()?.size, 2)
  assert.is(pool.getPoolMetrics().maxSize, 2)
  for (const size of [Number.NaN, 0, 2.5, Infinity]) {
    next = size
    assert.is(scaler.evaluate(), undefined, String(size))
  }
  assert.is(pool.getPoolMetrics().maxSize, 2, 'unchanged by sizes that are no sizes')
  assert.is(errors.length, 4)
  for (const error of errors) assert.instance(error, RangeError)
  assert.match((errors[0] as Error).message, "Could not resize pool 'orders'. Its policy decided a size of NaN")
  scaler.stop()
})

runtime('a budget count that fails after the autoscaler stopped (a shutdown) is not reported; one before is', async () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10 })
  const pending: ((error: Error) => void)[] = []
  const count = (): Promise<{ rows: { held: number }[] }> => new Promise((_resolve, reject) => void pending.push(reject))
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: count })
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { timers: false, onError: (error) => void errors.push(error) })
  const first = scaler.refreshBudget()
  pending[0]?.(new Error('count failed'))
  await first
  assert.equal(errors.map((error) => (error as Error).message), ['count failed'])
  const second = scaler.refreshBudget()
  scaler.stop()
  pending[1]?.(new Error('The pool is closed.'))
  await second
  assert.is(errors.length, 1)
})

runtime('a budget count that answers after the autoscaler stopped is dropped, not stored for the next pool of the budget', async () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const answers: ((held: number) => void)[] = []
  const count = (): Promise<{ rows: { held: number }[] }> => new Promise((resolve) => void answers.push((held) => resolve({ rows: [{ held }] })))
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: count })
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { timers: false, onError: (error) => void errors.push(error) })
  const counting = scaler.refreshBudget()
  // The pool closes while the count runs (a new pool of that name may take the budget next).
  await pool.close()
  assert.not.ok(scaler.running)
  answers[0]?.(18)
  await counting
  // Before, a reading of a pool holding nothing was stored: a limit of the fleet's free share (2) for whoever came next.
  assert.is(budget.reading, undefined)
  assert.equal(errors, [], 'a count cut short by the close is no failure to report')
})

runtime('stop() lets go of whoever waits on a budget count that never answers (no later refresh will)', async () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10 })
  const count = (): Promise<{ rows: { held: number }[] }> => new Promise(() => undefined)
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: count })
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { timers: false, onError: () => undefined })
  let done = false
  const counting = scaler.refreshBudget().then(() => (done = true))
  await Promise.resolve()
  assert.not.ok(done)
  scaler.stop()
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(done, 'still waiting on a count no one will ever end')
  await counting
  // Once stopped, a refresh answers at once.
  await scaler.refreshBudget()
})

runtime('a budget count that never answers is reported after 10 s and asked again, not waited on for good', async () => {
  const clock = new ManualClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10 })
  let asked = 0
  // A client on a half-open connection: the count never settles.
  const count = (): Promise<{ rows: { held: number }[] }> => (asked++, new Promise(() => undefined))
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: count, clock })
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { clock, timers: false, onError: (error) => void errors.push(error) })
  let firstDone = false
  void scaler.refreshBudget().then(() => (firstDone = true))
  clock.advance(9_999)
  void scaler.refreshBudget()
  assert.is(asked, 1, 'still waiting for the first')
  assert.equal(errors, [])
  clock.advance(1)
  void scaler.refreshBudget()
  assert.is(asked, 2, 'asked again')
  await Promise.resolve()
  assert.ok(firstDone, 'whoever waited on the first is let go')
  assert.equal(errors.map((error) => (error as Error).message), ["The connection count of the shared budget 'orders-api' has not answered within 10000 ms. It is asked again; the pool keeps the last reading until it goes stale."])
  scaler.stop()
})

runtime('a budget count that answers after a later one is dropped: an old count is not taken for fresh', async () => {
  const clock = new ManualClock()
  const answers: ((held: number) => void)[] = []
  const count = (): Promise<{ rows: { held: number }[] }> => new Promise((resolve) => void answers.push((held) => resolve({ rows: [{ held }] })))
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: count, clock })
  const own = () => ({ totalConnections: 2, activeConnections: 2, idleConnections: 0 })
  const first = budget.refresh(own)
  const second = budget.refresh(own)
  answers[1]?.(4) // the later count answers first
  await second
  answers[0]?.(18) // then the one asked before it
  await first
  assert.is(budget.reading?.held, 4, 'the newer count stands')
})

// Ticks a pool for 3 s under a policy of its own whose `dueInMillis()` is `dueInMillis`: how many evaluations
// came, and what went to onError.
async function tickedWithDueIn(dueInMillis: () => number): Promise<{ evaluations: number; errors: unknown[] }> {
  const clock = new TimerClock()
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  let evaluations = 0
  const policy: ScalingPolicy = {
    kind: 'custom',
    minSize: 1,
    maxSize: 20,
    evaluationIntervalMillis: 1000,
    sampleIntervalMillis: 100,
    observe: () => undefined,
    evaluate: () => (evaluations++, undefined),
    dueInMillis,
  }
  const errors: unknown[] = []
  const scaler = attachAutoscaler(pool, policy, { clock, onError: (error) => errors.push(error) })
  await clock.advance(3000)
  scaler.stop()
  return { evaluations, errors }
}

runtime("a policy's dueInMillis() that is not a number >= 0 is reported, and its interval stands in: evaluations go on", async () => {
  const { evaluations, errors } = await tickedWithDueIn(() => Number.NaN)
  assert.ok(evaluations >= 2, `evaluated ${evaluations} times`)
  assert.is(errors.length, 1)
  assert.match((errors[0] as Error).message, "The autoscaling policy's dueInMillis() returned NaN; expected a finite number >= 0.")
})

runtime("a policy's dueInMillis() that throws is reported, and its interval stands in: evaluations go on", async () => {
  const { evaluations, errors } = await tickedWithDueIn(() => {
    throw new Error('no schedule today')
  })
  // Before, every tick threw before it evaluated: no evaluation at all.
  assert.ok(evaluations >= 2, `evaluated ${evaluations} times`)
  assert.is(errors.length, 1, 'the same failure reported once')
  assert.is((errors[0] as Error).message, 'no schedule today')
})

runtime('refuses a frozen pool, naming pool, before it resizes anything', () => {
  // Outside the config's bounds: an autoscaler that started would resize it at once.
  const pool = Object.freeze(new ModelPool('orders', { model: waitBound(5), maxSize: 80 }))
  const error = throwsError(() => attachAutoscaler(pool, adaptive, { timers: false }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'pool')
  assert.match(error.message, 'a ManagedPool, not frozen or sealed')
  assert.is(pool.resizes.length, 0)
})

runtime('takes a frozen shared budget: its claim is kept beside it, not on it', () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10 })
  const budget = createSharedBudget({ total: 20, applicationName: 'orders-api', query: async () => ({ rows: [{ held: 0 }] }) })
  Object.freeze(budget)
  // Before, the claim failed (TypeError) after the autoscaler had started: it ran on, with no handle to stop it.
  const scaler = attachAutoscaler(pool, { ...adaptive, budget }, { timers: false })
  const other = new ModelPool('billing', { model: waitBound(5), maxSize: 10 })
  assert.is(throwsError(() => attachAutoscaler(other, { ...adaptive, budget }, { timers: false }), InvalidOptionError).option, 'budget')
  scaler.stop()
  attachAutoscaler(other, { ...adaptive, budget }, { timers: false }).stop()
})

runtime('the default onError warns with the message redacted', async () => {
  const pool = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const policy: ScalingPolicy = {
    kind: 'custom', minSize: 1, maxSize: 20, evaluationIntervalMillis: 1000, sampleIntervalMillis: 100,
    observe: () => undefined,
    evaluate: () => {
      throw new Error('could not reach postgres://app:hunter2@db.internal:5432/orders')
    },
  }
  const warnings = await captureWarnings(() => {
    const scaler = attachAutoscaler(pool, policy, { timers: false })
    scaler.evaluate()
    scaler.stop()
  })
  const warning = warnings.find((each) => each.code === 'LIFEGUARD_AUTOSCALE_FAILED')
  assert.ok(warning, 'warned')
  assert.not.match(warning.message, 'hunter2')
  assert.match(warning.message, 'Autoscaler failed: could not reach postgres://')
})

runtime.run()
