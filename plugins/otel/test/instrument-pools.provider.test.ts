import { createPoolRegistry, InvalidOptionError, type PoolRegistry } from '@lifeguard/core'
import { ManualClock } from '@lifeguard/test-kit'
import { metrics, type MeterProvider } from '@opentelemetry/api'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames } from '../src/index.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { createMetricsHarness, findPoint, histogramOf, valueOf, type MetricsHarness } from './_helpers/metrics.js'

interface Context {
  clock: ManualClock
  registry: PoolRegistry
  pool: MemoryPool
  harnesses: MetricsHarness[]
}

const provider = suite<Context>('instrumentPools and the MeterProvider', {} as Context)

provider.before.each((context) => {
  context.clock = new ManualClock()
  context.registry = createPoolRegistry()
  context.pool = context.registry.register(new MemoryPool('orders', { maxSize: 4 }))
  context.harnesses = []
})

provider.after.each(async (context) => {
  // The global provider is process-wide: leave none behind for the next test file.
  metrics.disable()
  await context.registry.close()
  for (const harness of context.harnesses) await harness.shutdown()
})

function harness(context: Context): MetricsHarness {
  const created = createMetricsHarness()
  context.harnesses.push(created)
  return created
}

const orders = { [attributeNames.poolName]: 'orders' }

function reportsPool(collected: Awaited<ReturnType<MetricsHarness['collect']>>): boolean {
  const limit = collected.find((m) => m.descriptor.name === metricNames.limit)
  return limit !== undefined && findPoint(limit, orders) !== undefined
}

provider('an SDK registered after instrumentPools() is followed: nothing is subscribed before, everything after the next check', async (context) => {
  const { clock, pool } = context
  const instrumentation = instrumentPools(context.registry, { clock })
  assert.is(instrumentation.active, false)
  assert.is(pool.listenerCount, 0, 'no listener while the meter is a no-op')
  ;(await pool.acquire())()
  const sdk = harness(context)
  metrics.setGlobalMeterProvider(sdk.meterProvider)
  await clock.advance(999)
  assert.is(instrumentation.active, false, 'not before the next check')
  await clock.advance(1)
  assert.is(instrumentation.active, true)
  assert.equal(instrumentation.pools, ['orders'])
  const release = await pool.acquire()
  pool.query(2, 'SELECT')
  release()
  const collected = await sdk.collect()
  assert.is(valueOf(collected, metricNames.limit, orders), 4)
  assert.is(histogramOf(collected, metricNames.useTime, orders).count, 1, 'the checkout made after the SDK appeared')
  assert.is(histogramOf(collected, metricNames.operationDuration, { ...orders, [attributeNames.dbOperationName]: 'SELECT' }).count, 1)
  instrumentation.stop()
  assert.is(clock.pendingTimers, 0, 'stop() ends the check')
  assert.is(pool.listenerCount, 0)
})

provider('an SDK registered before instrumentPools() is used at once', async (context) => {
  const sdk = harness(context)
  metrics.setGlobalMeterProvider(sdk.meterProvider)
  const instrumentation = instrumentPools(context.registry, { clock: context.clock })
  assert.is(instrumentation.active, true)
  assert.ok(reportsPool(await sdk.collect()))
  instrumentation.stop()
})

provider('a replaced global provider takes over the pools; a disabled one leaves them untouched', async (context) => {
  const { clock, pool } = context
  const first = harness(context)
  metrics.setGlobalMeterProvider(first.meterProvider)
  const instrumentation = instrumentPools(context.registry, { clock })
  const listeners = pool.listenerCount
  metrics.disable()
  const second = harness(context)
  metrics.setGlobalMeterProvider(second.meterProvider)
  await clock.advance(1000)
  assert.is(pool.listenerCount, listeners, 'one set of listeners, for the new provider')
  ;(await pool.acquire())()
  assert.is(histogramOf(await second.collect(), metricNames.useTime, orders).count, 1)
  const stale = (await first.collect()).find((m) => m.descriptor.name === metricNames.useTime)
  assert.is(stale === undefined ? undefined : findPoint(stale, orders), undefined, 'the old provider gets nothing more')
  metrics.disable()
  await clock.advance(1000)
  assert.is(instrumentation.active, false)
  assert.is(pool.listenerCount, 0)
  instrumentation.stop()
})

provider('setMeterProvider() moves every pool to the given provider and stops following the global one', async (context) => {
  const { clock, pool } = context
  const first = harness(context)
  const second = harness(context)
  const instrumentation = instrumentPools(context.registry, { meterProvider: first.meterProvider, clock })
  assert.is(clock.pendingTimers, 0, 'an explicit provider is not followed')
  ;(await pool.acquire())()
  instrumentation.setMeterProvider(second.meterProvider)
  const left = await first.collect()
  assert.is(histogramOf(left, metricNames.useTime, orders).count, 1, 'samples held back went to the first provider')
  // The first provider still runs: its gauges of the pool read 0 from now on, not the last live numbers.
  assert.is(valueOf(left, metricNames.limit, orders), 0)
  assert.is(valueOf(await first.collect(), metricNames.limit, orders), 0)
  ;(await pool.acquire())()
  assert.is(histogramOf(await second.collect(), metricNames.useTime, orders).count, 1)

  const global = harness(context)
  metrics.setGlobalMeterProvider(global.meterProvider)
  await clock.advance(5000)
  assert.not.ok(reportsPool(await global.collect()), 'the global provider is ignored once one was given')

  try {
    instrumentation.setMeterProvider({} as MeterProvider)
    assert.unreachable('expected InvalidOptionError')
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.match((error as Error).message, /setMeterProvider.*`meterProvider`.*a MeterProvider/)
  }
  instrumentation.stop()
  instrumentation.setMeterProvider(first.meterProvider)
  assert.is(instrumentation.active, false, 'a stopped instrumentation stays stopped')
  assert.is(pool.listenerCount, 0)
})

provider('setMeterProvider() on an instrumentation still waiting for an SDK binds at once (what registerInstrumentations() calls on instrumentations)', async (context) => {
  // OpenTelemetry's registerInstrumentations() calls setMeterProvider() with the SDK's provider once it starts.
  const instrumentation = instrumentPools(context.registry, { clock: context.clock })
  const sdk = harness(context)
  instrumentation.setMeterProvider(sdk.meterProvider)
  assert.is(instrumentation.active, true)
  assert.ok(reportsPool(await sdk.collect()))
  assert.is(context.clock.pendingTimers, 0)
  instrumentation.stop()
})

provider('a global provider that fails to give a meter is reported once, and the next one registered is followed', async (context) => {
  const { clock, pool } = context
  const broken = { getMeter: () => { throw new Error('no meter today') } } as unknown as MeterProvider
  metrics.setGlobalMeterProvider(broken)
  const errors: string[] = []
  const instrumentation = instrumentPools(context.registry, { clock, onError: (error) => void errors.push((error as Error).message) })
  assert.equal(errors, ['no meter today'])
  assert.is(instrumentation.active, false)
  await clock.advance(3000)
  assert.equal(errors, ['no meter today'], 'once, not at every check')
  metrics.disable()
  const sdk = harness(context)
  metrics.setGlobalMeterProvider(sdk.meterProvider)
  await clock.advance(1000)
  assert.is(instrumentation.active, true, 'the checks went on')
  ;(await pool.acquire())()
  assert.ok(reportsPool(await sdk.collect()))
  instrumentation.stop()
})

provider('stop() from onError, while a broken global provider is reported, ends the checks: no provider registered later is followed', async (context) => {
  const { clock, pool } = context
  const errors: string[] = []
  let instrumentation: ReturnType<typeof instrumentPools> | undefined
  instrumentation = instrumentPools(context.registry, {
    clock,
    onError: (error) => {
      errors.push((error as Error).message)
      instrumentation?.stop()
    },
  })
  metrics.setGlobalMeterProvider({ getMeter: () => { throw new Error('no meter today') } } as unknown as MeterProvider)
  await clock.advance(1000)
  assert.equal(errors, ['no meter today'])
  // Before, the check went on after stop(), and bound the next provider: listeners back, `active` true.
  assert.is(clock.pendingTimers, 0, 'no check after stop()')
  metrics.disable()
  metrics.setGlobalMeterProvider(harness(context).meterProvider)
  await clock.advance(3000)
  assert.is(instrumentation.active, false, 'a stopped instrumentation stays stopped')
  assert.is(pool.listenerCount, 0)
})

provider.run()
