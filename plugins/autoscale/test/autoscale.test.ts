import { createPoolRegistry, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, autoscale, createSharedBudget, type DynamicPoolConfig, type ScalingPolicy } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, waitBound } from './_helpers/model-pool.js'
import { throwsError } from '@lifeguard/test-kit'

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

function busyPool(name: string): ModelPool {
  return new ModelPool(name, { model: waitBound(5), maxSize: 10, clients: 50 })
}

const registry = suite('autoscale(registry)')

registry('a pool key that is a connection string is shown redacted in the refusal of its config', () => {
  const error = throwsError(() => autoscale(createPoolRegistry(), { pools: { 'postgres://app:S3cretPW@db/x': { policy: 'adaptive', minSize: 5, maxSize: 1 } } }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.not.match(error.message, 'S3cretPW')
})

registry('sizes the named pools and leaves the others alone', () => {
  const pools = createPoolRegistry()
  const orders = pools.register(busyPool('orders'))
  const reports = pools.register(busyPool('reports'))
  const clock = new ManualClock()
  const scaler = autoscale(pools, { pools: { orders: threshold }, clock, timers: false })
  assert.equal(scaler.pools, ['orders'])
  const running = scaler.get('orders')
  assert.ok(running)
  assert.is(scaler.get('reports'), undefined)
  clock.advance(1000)
  running.evaluate()
  assert.is(orders.maxSize, 14)
  assert.is(reports.maxSize, 10)
  scaler.stop()
})

registry('picks up a pool registered later and drops one that closes', async () => {
  const pools = createPoolRegistry()
  const scaler = autoscale(pools, { pools: { orders: threshold }, timers: false })
  assert.equal(scaler.pools, [])
  const orders = pools.register(busyPool('orders'))
  assert.equal(scaler.pools, ['orders'])
  const running = scaler.get('orders')
  assert.is(running?.pool, orders)
  await pools.close()
  assert.equal(scaler.pools, [])
  assert.is(running?.running, false)
  scaler.stop()
})

registry('a pool closed on its own, not through the registry, is no longer listed as sized', async () => {
  const pools = createPoolRegistry()
  const orders = pools.register(busyPool('orders'))
  const scaler = autoscale(pools, { pools: { orders: threshold }, timers: false })
  assert.equal(scaler.pools, ['orders'])
  await orders.close()
  assert.equal(scaler.pools, [])
  scaler.get('orders')?.evaluate()
  assert.is(scaler.get('orders')?.running, false, 'its autoscaler stopped at its next sample')
  scaler.stop()
})

registry('gives each pool its own policy state, and accepts a policy object', () => {
  const pools = createPoolRegistry()
  const seen: number[] = []
  const custom: ScalingPolicy = {
    kind: 'fixed-step',
    minSize: 1,
    maxSize: 100,
    evaluationIntervalMillis: 1000,
    sampleIntervalMillis: 100,
    observe: (sample) => void seen.push(sample.maxSize),
    evaluate: ({ size }) => ({ size: size + 1, reason: 'custom:step', details: { step: 1 } }),
  }
  const a = pools.register(busyPool('a'))
  const scaler = autoscale(pools, { pools: { a: custom }, timers: false })
  scaler.get('a')?.evaluate()
  assert.is(a.maxSize, 11)
  assert.is(a.resizes[0]?.options?.reason, 'custom:step')
  assert.equal(seen, [10])
  scaler.stop()
})

registry('skips a disabled config', () => {
  const pools = createPoolRegistry()
  const orders = pools.register(new ModelPool('orders', { model: waitBound(5), maxSize: 50 }))
  const scaler = autoscale(pools, { pools: { orders: { ...threshold, enabled: false } } })
  assert.equal(scaler.pools, [])
  assert.is(orders.maxSize, 50)
  scaler.stop()
})

registry('stop() ends every pool`s evaluation, stops following the registry, and is idempotent', () => {
  const pools = createPoolRegistry()
  const orders = pools.register(busyPool('orders'))
  const scaler = autoscale(pools, { pools: { orders: threshold, later: threshold }, timers: false })
  const running = scaler.get('orders')
  scaler.stop()
  scaler.stop()
  assert.is(running?.running, false)
  pools.register(busyPool('later'))
  assert.equal(scaler.pools, [])
  running?.evaluate()
  assert.is(orders.maxSize, 10)
})

registry('checks every config at once, naming the pool and the field', () => {
  const pools = createPoolRegistry()
  const error = throwsError(
    () => autoscale(pools, { pools: { orders: threshold, reports: { ...threshold, scaleDownThreshold: 90 } } }),
    InvalidOptionError,
    'ERR_INVALID_OPTION',
  )
  assert.is(error.option, 'scaleDownThreshold')
  assert.match(error.message, `pool 'reports'`)
  const missing = throwsError(() => autoscale(pools, {} as never), InvalidOptionError)
  assert.is(missing.option, 'pools')
  const notRegistry = throwsError(() => autoscale({} as never, { pools: {} }), InvalidOptionError)
  assert.is(notRegistry.option, 'registry')
})

registry('refuses a budget or a policy object given to two names before either pool is registered, and a pools Map', () => {
  const pools = createPoolRegistry()
  const budget = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows: [{ held: 0 }] }) })
  const adaptive = { policy: 'adaptive', minSize: 2, maxSize: 20 } as const
  // Before, both were taken, and the second pool to arrive was refused through onError and left unsized.
  const shared = throwsError(() => autoscale(pools, { pools: { orders: { ...adaptive, budget }, billing: { ...adaptive, budget } } }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(shared.option, 'budget')
  assert.match(shared.message, "autoscale for pool 'billing'")
  assert.match(shared.message, "this one is given to pool 'orders' too")
  const policy = new AdaptivePolicy(adaptive)
  const fedTwice = throwsError(() => autoscale(pools, { pools: { orders: policy, billing: policy } }), InvalidOptionError)
  assert.is(fedTwice.option, 'policy')
  assert.match(fedTwice.message, "this one is given to pool 'orders' too")
  // A disabled config sizes nothing: it takes no budget.
  autoscale(pools, { pools: { orders: { ...adaptive, budget }, billing: { ...adaptive, budget, enabled: false } } }).stop()
  // A Map has no own entries to read: it would size nothing, and say so nowhere.
  const map = throwsError(() => autoscale(pools, { pools: new Map([['orders', adaptive]]) as never }), InvalidOptionError)
  assert.is(map.option, 'pools')
  assert.match(map.message, 'a plain object of configs by pool name')
})

registry('takes the configs as they are when called: a name added to the object later is not sized', () => {
  const pools = createPoolRegistry()
  const configs: Record<string, DynamicPoolConfig> = { orders: threshold }
  const scaler = autoscale(pools, { pools: configs, timers: false })
  configs.billing = threshold
  pools.register(busyPool('orders'))
  pools.register(busyPool('billing'))
  assert.equal(scaler.pools, ['orders'])
  scaler.stop()
})

registry.run()
