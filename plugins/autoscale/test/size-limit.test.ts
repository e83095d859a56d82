import { createPoolRegistry, InvalidOptionError } from '@lifeguard/core'
import { createMongoPool } from '@lifeguard/mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, attachAutoscaler, autoscale, createSharedBudget, withDynamicSizing, type AdaptivePoolConfig, type DynamicPoolConfig } from '../src/index.js'
import { ModelPool, waitBound } from './_helpers/model-pool.js'
import { throwsError } from '@lifeguard/test-kit'

/** A pool that, like the MongoDB pool, cannot grow past a fixed limit. */
class LimitedPool extends ModelPool {
  readonly maxSizeLimit: number

  constructor(name: string, limit: number) {
    super(name, { model: waitBound(5), maxSize: 10 })
    this.maxSizeLimit = limit
  }
}

const adaptive: AdaptivePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 50 }
const threshold: DynamicPoolConfig = {
  enabled: true, minSize: 2, maxSize: 50, scaleUpThreshold: 80, scaleDownThreshold: 30,
  scaleUpIncrement: 4, scaleDownIncrement: 2, evaluationInterval: 1000,
}

function refusesMaxSize(error: InvalidOptionError, limit: number): void {
  assert.is(error.option, 'maxSize')
  assert.match(error.message, `pool 'orders'`)
  assert.match(error.message, `an integer <= the pool's \`maxSizeLimit\` (${limit}), got \`50\``)
}

const limit = suite('a maxSize above the pool`s own limit')

limit('attachAutoscaler refuses it, naming maxSize, its value and the pool`s limit; the limit itself is fine', () => {
  const pool = new LimitedPool('orders', 40)
  refusesMaxSize(throwsError(() => attachAutoscaler(pool, adaptive, { timers: false }), InvalidOptionError, 'ERR_INVALID_OPTION'), 40)
  refusesMaxSize(throwsError(() => attachAutoscaler(pool, threshold, { timers: false }), InvalidOptionError), 40)
  assert.is(pool.resizes.length, 0)
  attachAutoscaler(pool, { ...adaptive, maxSize: 40 }, { timers: false }).stop()
  // A pool without a limit of its own takes any maxSize.
  attachAutoscaler(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { ...adaptive, maxSize: 5000 }, { timers: false }).stop()
})

limit('the MongoDB pool`s maxSizeLimit (the driver`s fixed maxPoolSize) is that limit', async () => {
  const pool = createMongoPool({ name: 'orders', uri: 'mongodb://127.0.0.1:27017/orders', maxSize: 10, maxSizeLimit: 20 })
  try {
    refusesMaxSize(throwsError(() => attachAutoscaler(pool, adaptive, { timers: false }), InvalidOptionError), 20)
    attachAutoscaler(pool, { ...adaptive, maxSize: 20 }, { timers: false }).stop()
  } finally {
    await pool.close()
  }
})

limit('autoscale() throws for a pool already registered, and reports one that arrives later (left alone)', () => {
  const pools = createPoolRegistry()
  pools.register(new LimitedPool('orders', 40))
  refusesMaxSize(throwsError(() => autoscale(pools, { pools: { orders: adaptive }, timers: false }), InvalidOptionError), 40)
  const errors: unknown[] = []
  const later = createPoolRegistry()
  const scaler = autoscale(later, { pools: { orders: adaptive }, timers: false, onError: (error) => errors.push(error) })
  const pool = later.register(new LimitedPool('orders', 40))
  assert.is(errors.length, 1)
  refusesMaxSize(errors[0] as InvalidOptionError, 40)
  assert.equal(scaler.pools, [])
  assert.is(pool.resizes.length, 0)
  scaler.stop()
})

limit('autoscale() refusing one registered pool starts nothing for the others: none resized, none claimed', () => {
  const pools = createPoolRegistry()
  // Registered first, and outside its config's bounds: an autoscaler moves it inside them as it starts.
  const billing = pools.register(new ModelPool('billing', { model: waitBound(5), maxSize: 10 }))
  pools.register(new LimitedPool('orders', 40))
  const configs = { billing: { ...adaptive, maxSize: 5 }, orders: adaptive }
  refusesMaxSize(throwsError(() => autoscale(pools, { pools: configs, timers: false }), InvalidOptionError), 40)
  // Before, billing had been resized to 5 by the time orders was refused.
  assert.is(billing.resizes.length, 0)
  assert.is(billing.getPoolMetrics().maxSize, 10)
  const scaler = autoscale(pools, { pools: { billing: configs.billing }, timers: false })
  assert.equal(scaler.pools, ['billing'], 'nothing left claimed')
  scaler.stop()
})

limit('autoscale() refuses one budget for two registered pools, naming budget, with neither resized', () => {
  const pools = createPoolRegistry()
  const orders = pools.register(new ModelPool('orders', { model: waitBound(5), maxSize: 60 }))
  const billing = pools.register(new ModelPool('billing', { model: waitBound(5), maxSize: 60 }))
  const budget = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows: [{ held: 0 }] }) })
  const error = throwsError(() => autoscale(pools, { pools: { orders: { ...adaptive, budget }, billing: { ...adaptive, budget } }, timers: false }), InvalidOptionError)
  assert.is(error.option, 'budget')
  assert.match(error.message, "this one is given to pool 'orders' too: use one budget per pool")
  assert.equal([orders.resizes.length, billing.resizes.length], [0, 0])
})

limit('autoscale() refuses one policy object for two registered pools, naming policy, with neither resized', () => {
  const pools = createPoolRegistry()
  const orders = pools.register(new ModelPool('orders', { model: waitBound(5), maxSize: 60 }))
  const billing = pools.register(new ModelPool('billing', { model: waitBound(5), maxSize: 60 }))
  const policy = new AdaptivePolicy(adaptive)
  const error = throwsError(() => autoscale(pools, { pools: { orders: policy, billing: policy }, timers: false }), InvalidOptionError)
  assert.is(error.option, 'policy')
  assert.match(error.message, "this one is given to pool 'orders' too")
  assert.equal([orders.resizes.length, billing.resizes.length], [0, 0])
})

limit('autoscale() whose start fails on one pool (its metrics throw) leaves no autoscaler running on the others', () => {
  const pools = createPoolRegistry()
  pools.register(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }))
  const broken = pools.register(new ModelPool('billing', { model: waitBound(5), maxSize: 10 }))
  broken.getPoolMetrics = () => {
    throw new Error('no metrics today')
  }
  throwsError(() => autoscale(pools, { pools: { orders: adaptive, billing: adaptive }, timers: false }), Error)
  // Before, the autoscaler started for orders kept running with no handle to stop it: orders could take no other.
  const scaler = autoscale(pools, { pools: { orders: adaptive }, timers: false })
  assert.equal(scaler.pools, ['orders'])
  scaler.stop()
})

limit('withDynamicSizing() refuses what is no pool, naming pool', () => {
  for (const bad of [null, 'orders', {}]) {
    const error = throwsError(() => withDynamicSizing(bad as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'pool')
  }
})

limit('setDynamicPoolConfig refuses it and keeps the running config', () => {
  const pool = withDynamicSizing(new LimitedPool('orders', 40), { timers: false })
  pool.setDynamicPoolConfig({ ...threshold, maxSize: 40 })
  const running = pool.dynamicSizing
  refusesMaxSize(throwsError(() => pool.setDynamicPoolConfig(threshold), InvalidOptionError), 40)
  assert.is(pool.dynamicSizing, running)
  assert.is(pool.getDynamicPoolConfig()?.maxSize, 40)
  running?.stop()
})

limit.run()
