import { InvalidOptionError, PoolClosedError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdaptivePolicy, createSharedBudget, ThresholdPolicy, withDynamicSizing, type DynamicPoolConfig } from '../src/index.js'
import { ManualClock } from './_helpers/manual-clock.js'
import { ModelPool, waitBound } from './_helpers/model-pool.js'
import { throwsError } from '@lifeguard/test-kit'

const config: DynamicPoolConfig = {
  enabled: true,
  minSize: 2,
  maxSize: 20,
  scaleUpThreshold: 80,
  scaleDownThreshold: 30,
  scaleUpIncrement: 4,
  scaleDownIncrement: 2,
  evaluationInterval: 1000,
}

const seed = suite('withDynamicSizing(pool).setDynamicPoolConfig')

seed('adds the seed`s method to the same pool object and starts sizing it', () => {
  const clock = new ManualClock()
  const raw = new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 })
  const pool = withDynamicSizing(raw, { clock, timers: false })
  assert.is(pool, raw)
  assert.not.ok(Object.keys(pool).includes('setDynamicPoolConfig'), 'not enumerable')
  assert.is(pool.dynamicSizing, undefined)
  pool.setDynamicPoolConfig(config)
  assert.equal(pool.getDynamicPoolConfig(), config)
  assert.instance(pool.dynamicSizing?.policy, ThresholdPolicy)
  clock.advance(1000)
  pool.dynamicSizing?.evaluate()
  assert.is(pool.maxSize, 14)
  pool.setDynamicPoolConfig({ ...config, enabled: false })
})

seed('replaces the running config, and `enabled: false` stops it leaving the size as it is', () => {
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10, clients: 50 }), { timers: false })
  pool.setDynamicPoolConfig(config)
  const first = pool.dynamicSizing
  pool.setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 40 })
  assert.is(first?.running, false)
  assert.instance(pool.dynamicSizing?.policy, AdaptivePolicy)
  pool.setDynamicPoolConfig({ ...config, enabled: false })
  assert.is(pool.dynamicSizing, undefined)
  assert.is(pool.getDynamicPoolConfig()?.enabled, false)
  assert.is(pool.maxSize, 10)
})

seed('rejects an invalid config naming the field, and keeps the running one', () => {
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { timers: false })
  pool.setDynamicPoolConfig(config)
  const running = pool.dynamicSizing
  const error = throwsError(() => pool.setDynamicPoolConfig({ ...config, minSize: 30 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'minSize')
  assert.match(error.message, /setDynamicPoolConfig for pool 'orders'/)
  assert.is(pool.dynamicSizing, running)
  assert.ok(running?.running)
  assert.equal(pool.getDynamicPoolConfig(), config)
  running?.stop()
})

seed("a config refused when attached (its budget sizes another pool) keeps the running one in force", () => {
  const budget = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows: [{ held: 0 }] }) })
  const other = withDynamicSizing(new ModelPool('billing', { model: waitBound(5), maxSize: 10 }), { timers: false })
  other.setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 20, budget })
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { timers: false })
  pool.setDynamicPoolConfig(config)
  const error = throwsError(() => pool.setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 20, budget }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'budget')
  assert.equal(pool.getDynamicPoolConfig(), config)
  assert.ok(pool.dynamicSizing?.running, 'the pool is still sized by the config in force')
  pool.dynamicSizing?.stop()
  other.dynamicSizing?.stop()
})

seed('a config refused when attached does not restart one the user stopped', () => {
  const budget = createSharedBudget({ total: 90, applicationName: 'svc', query: async () => ({ rows: [{ held: 0 }] }) })
  const other = withDynamicSizing(new ModelPool('billing', { model: waitBound(5), maxSize: 10 }), { timers: false })
  other.setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 20, budget })
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { timers: false })
  pool.setDynamicPoolConfig(config)
  pool.dynamicSizing?.stop()
  throwsError(() => pool.setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 20, budget }), InvalidOptionError, 'ERR_INVALID_OPTION')
  // Before, the refusal attached the stopped config again: the pool was sized by what the user had stopped.
  assert.is(pool.dynamicSizing, undefined)
  other.dynamicSizing?.stop()
})

seed('refuses a frozen pool, naming pool: the methods and the claim live on the pool', () => {
  const pool = Object.freeze(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }))
  const error = throwsError(() => withDynamicSizing(pool, { timers: false }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'pool')
  assert.match(error.message, 'not frozen or sealed')
})

seed('refuses a config for a closed pool with PoolClosedError: it would size nothing', async () => {
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { timers: false })
  await pool.close()
  const error = throwsError(() => pool.setDynamicPoolConfig(config), PoolClosedError, 'ERR_POOL_CLOSED')
  assert.is(error.message, "Could not size pool 'orders'. The pool is closed.")
  assert.is(pool.getDynamicPoolConfig(), undefined)
})

seed('wraps a pool once: a second call returns it unchanged', () => {
  const pool = withDynamicSizing(new ModelPool('orders', { model: waitBound(5), maxSize: 10 }), { timers: false })
  pool.setDynamicPoolConfig(config)
  const running = pool.dynamicSizing
  assert.is(withDynamicSizing(pool), pool)
  assert.is(pool.dynamicSizing, running)
  running?.stop()
})

seed.run()
