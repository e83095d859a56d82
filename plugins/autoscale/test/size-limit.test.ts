import { createPoolRegistry, InvalidOptionError } from '@lifeguard/core'
import { createMongoPool } from '@lifeguard/mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attachAutoscaler, autoscale, withDynamicSizing, type AdaptivePoolConfig, type DynamicPoolConfig } from '../src/index.js'
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
