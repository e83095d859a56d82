import { createPoolRegistry, InvalidOptionError, RegistrationError, type PoolCounters, type PoolEventSource, type PoolRegistry } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames, type InstrumentPoolsOptions } from '../src/index.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { createMetricsHarness, histogramOf, metric, valueOf, type MetricsHarness } from './_helpers/metrics.js'

interface Context {
  harness: MetricsHarness
  registries: PoolRegistry[]
}

const shared = suite<Context>('instrumentPools: two registries on one MeterProvider', {} as Context)

shared.before.each((context) => {
  context.harness = createMetricsHarness()
  context.registries = []
})

shared.after.each(async (context) => {
  for (const registry of context.registries) await registry.close()
  await context.harness.shutdown()
})

function registryWith(context: Context, maxSize: number): { registry: PoolRegistry; pool: MemoryPool } {
  const registry = createPoolRegistry()
  context.registries.push(registry)
  return { registry, pool: registry.register(new MemoryPool('orders', { maxSize })) }
}

const named = (name: string) => ({ [attributeNames.poolName]: name })

function limitPoints(metrics: Awaited<ReturnType<MetricsHarness['collect']>>): Record<string, number> {
  const points: Record<string, number> = {}
  for (const point of metric(metrics, metricNames.limit).dataPoints) points[String(point.attributes[attributeNames.poolName])] = point.value as number
  return points
}

shared('poolNamePrefix gives each registry its own series: live numbers, counters and a close stay apart', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const errors: unknown[] = []
  const onError = (error: unknown) => void errors.push(error)
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider, poolNamePrefix: 'a.', onError })
  const ib = instrumentPools(b.registry, { meterProvider: harness.meterProvider, poolNamePrefix: 'b/', onError })
  assert.equal(ia.pools, ['orders'], 'pools lists registry names')
  assert.equal(ib.pools, ['orders'])
  ;(await a.pool.acquire())()
  ;(await b.pool.acquire())()
  ;(await b.pool.acquire())()
  let metrics = await harness.collect()
  assert.equal(limitPoints(metrics), { 'a.orders': 2, 'b/orders': 5 })
  assert.is(histogramOf(metrics, metricNames.useTime, named('a.orders')).count, 1)
  assert.is(histogramOf(metrics, metricNames.useTime, named('b/orders')).count, 2)
  await b.registry.close()
  metrics = await harness.collect()
  assert.equal(limitPoints(metrics), { 'a.orders': 2, 'b/orders': 0 }, 'closing b zeroes b only')
  assert.equal(limitPoints(await harness.collect()), { 'a.orders': 2, 'b/orders': 0 })
  assert.equal(errors, [])
  ia.stop()
  ib.stop()
})

shared('a pool name another instrumentation reports on the same provider is left out and reported, never mixed', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const errors: unknown[] = []
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider })
  const ib = instrumentPools(b.registry, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  assert.is(errors.length, 1)
  const error = errors[0] as RegistrationError
  assert.instance(error, RegistrationError)
  assert.is(error.code, 'ERR_REGISTRATION')
  assert.match(error.message, /^Could not report pool 'orders'\. Another instrumentation reports a pool under that db\.client\.connection\.pool\.name to the same MeterProvider/)
  assert.match(error.message, /`poolNamePrefix`/)
  assert.equal(ib.pools, [], 'the refused pool is not listed')
  assert.is(b.pool.listenerCount, 0, 'nothing listens to the refused pool')

  ;(await a.pool.acquire())()
  ;(await b.pool.acquire())()
  let metrics = await harness.collect()
  assert.equal(limitPoints(metrics), { orders: 2 }, 'the series is the first registry\'s alone')
  assert.is(histogramOf(metrics, metricNames.useTime, named('orders')).count, 1, 'the other pool\'s checkouts are not added')
  await b.registry.close()
  metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.limit, named('orders')), 2, 'closing the refused pool zeroes nothing')

  // Once the first instrumentation stops, the name is free for another one.
  ia.stop()
  ib.stop()
  const c = registryWith(context, 7)
  const ic = instrumentPools(c.registry, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  assert.equal(ic.pools, ['orders'])
  assert.is(errors.length, 1)
  assert.is(valueOf(await harness.collect(), metricNames.limit, named('orders')), 7, 'the new instrumentation\'s live numbers win over the stopped one\'s zeros')
  ic.stop()
})

shared('a prefix that makes two names equal is a collision too, named with the reported name; pools registered later are checked', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const errors: unknown[] = []
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider, poolNamePrefix: 'x.' })
  const other = createPoolRegistry()
  context.registries.push(other)
  const io = instrumentPools(other, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  other.register(new MemoryPool('x.orders'))
  assert.is(errors.length, 1)
  assert.match((errors[0] as Error).message, /^Could not report pool 'x\.orders'\./)
  const c = registryWith(context, 3)
  const ic = instrumentPools(c.registry, { meterProvider: harness.meterProvider, poolNamePrefix: 'x', onError: (error) => void errors.push(error) })
  c.registry.register(new MemoryPool('.orders'))
  assert.is(errors.length, 2)
  assert.match((errors[1] as Error).message, /^Could not report pool '\.orders' as 'x\.orders'\./)
  assert.equal(ic.pools, ['orders'], 'its own xorders is reported')
  ia.stop()
  io.stop()
  ic.stop()
})

shared('the same name on two different MeterProviders is no collision', async (context) => {
  const { harness } = context
  const second = createMetricsHarness()
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const errors: unknown[] = []
  const onError = (error: unknown) => void errors.push(error)
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider, onError })
  const ib = instrumentPools(b.registry, { meterProvider: second.meterProvider, onError })
  assert.equal(errors, [])
  assert.is(valueOf(await harness.collect(), metricNames.limit, named('orders')), 2)
  assert.is(valueOf(await second.collect(), metricNames.limit, named('orders')), 5)
  // Moving the second one onto the shared provider meets the first one's name.
  ib.setMeterProvider(harness.meterProvider)
  assert.is(errors.length, 1)
  assert.equal(ib.pools, [])
  ia.stop()
  ib.stop()
  await second.shutdown()
})

shared('without onError the collision is a process warning; an onError that throws falls back to one', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const c = registryWith(context, 6)
  const warnings: Error[] = []
  const onWarning = (warning: Error) => void warnings.push(warning)
  process.on('warning', onWarning)
  try {
    const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider })
    const ib = instrumentPools(b.registry, { meterProvider: harness.meterProvider })
    const ic = instrumentPools(c.registry, {
      meterProvider: harness.meterProvider,
      onError: () => {
        throw new Error('broken hook')
      },
    })
    // process.emitWarning delivers on the next tick.
    for (let tick = 0; tick < 10 && warnings.length < 2; tick++) await new Promise((resolve) => setImmediate(resolve))
    assert.is(warnings.length, 2)
    assert.is((warnings[0] as Error & { code?: string }).code, 'LIFEGUARD_OTEL_POOL_NOT_REPORTED')
    assert.match(warnings[0]?.message ?? '', /^Could not report pool 'orders'\./)
    assert.is((warnings[1] as Error & { code?: string }).code, 'LIFEGUARD_OTEL_ON_ERROR_FAILED')
    assert.match(warnings[1]?.message ?? '', /broken hook.*Could not report pool 'orders'/)
    ia.stop()
    ib.stop()
    ic.stop()
  } finally {
    process.off('warning', onWarning)
  }
})

// A pool built on another copy of core, whose event source refuses an event this one listens to.
class RefusingPool extends MemoryPool {
  override get events(): PoolEventSource {
    const events = super.events
    return {
      on: (event, listener) => {
        if (event === 'timeout') throw new Error(`Unknown pool event '${event}'.`)
        return events.on(event, listener)
      },
    } as PoolEventSource
  }
}

shared('stop() from onError, while setMeterProvider() reports a refused pool, leaves nothing bound', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider })
  const errors: unknown[] = []
  let ib: ReturnType<typeof instrumentPools> | undefined
  ib = instrumentPools(b.registry, {
    onError: (error) => {
      errors.push(error)
      ib?.stop()
    },
  })
  // The same name on the same provider: refused while the new provider's reporter replays the pools.
  ib.setMeterProvider(harness.meterProvider)
  assert.is(errors.length, 1)
  assert.instance(errors[0], RegistrationError)
  // Before, the reporter was kept after stop(): `active` true, its claims held.
  assert.is(ib.active, false)
  assert.is(b.pool.listenerCount, 0)
  ia.stop()
  // Nothing of it follows the registry: a pool registered later is not reported by it.
  const later = b.registry.register(new MemoryPool('later', { maxSize: 1 }))
  assert.is(later.listenerCount, 0)
  // No claim is left on the provider: another instrumentation of b reports its pool.
  const again = instrumentPools(b.registry, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  assert.equal([...again.pools].sort(), ['later', 'orders'])
  assert.is(errors.length, 1)
  again.stop()
})

shared('setMeterProvider() from onError, while a replay reports a refused pool, binds that provider alone', async (context) => {
  const { harness } = context
  const a = registryWith(context, 2)
  const b = registryWith(context, 5)
  const ia = instrumentPools(a.registry, { meterProvider: harness.meterProvider })
  const other = createMetricsHarness()
  let ib: ReturnType<typeof instrumentPools> | undefined
  ib = instrumentPools(b.registry, { onError: () => ib?.setMeterProvider(other.meterProvider) })
  // Refused on the shared provider: the user moves this registry to a provider of its own.
  ib.setMeterProvider(harness.meterProvider)
  assert.equal(ib.pools, ['orders'])
  ;(await b.pool.acquire())()
  assert.equal(limitPoints(await other.collect()), { orders: 5 }, 'reported to the provider given in onError')
  assert.equal(limitPoints(await harness.collect()), { orders: 2 }, "the shared provider keeps a's series alone")
  // Before, the reporter of the refused bind was kept: the one on the other provider was left behind, unstopped.
  assert.is(b.pool.listenerCount > 0, true)
  ib.stop()
  assert.is(b.pool.listenerCount, 0, 'stop() leaves no listener')
  ia.stop()
  await other.shutdown()
})

shared('a pool that refuses a listener is reported, keeps none of them, and leaves its name to another registry', async (context) => {
  const { harness } = context
  const refusing = createPoolRegistry()
  context.registries.push(refusing)
  const pool = refusing.register(new RefusingPool('orders', { maxSize: 2 }))
  const errors: unknown[] = []
  const first = instrumentPools(refusing, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  assert.equal(errors.map((error) => (error as Error).message), ["Unknown pool event 'timeout'."])
  assert.equal(first.pools, [])
  assert.is(pool.listenerCount, 0, 'the listeners added before the refusal are gone')
  const other = registryWith(context, 5)
  const second = instrumentPools(other.registry, { meterProvider: harness.meterProvider, onError: (error) => void errors.push(error) })
  assert.equal(second.pools, ['orders'], 'the name was not left claimed')
  assert.is(errors.length, 1)
  assert.equal(limitPoints(await harness.collect()), { orders: 5 })
  first.stop()
  second.stop()
})

// A pool whose numbers cannot be read for a while.
class FailingPool extends MemoryPool {
  failing = false
  override getPoolCounters(): PoolCounters {
    if (this.failing) throw new Error('counters unavailable')
    return super.getPoolCounters()
  }
}

shared('a pool that fails to give its numbers is reported once until it gives them again; the others are still reported', async (context) => {
  const { harness } = context
  const registry = createPoolRegistry()
  context.registries.push(registry)
  const failing = registry.register(new FailingPool('orders', { maxSize: 2 }))
  registry.register(new MemoryPool('billing', { maxSize: 3 }))
  const errors: string[] = []
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider, onError: (error) => void errors.push((error as Error).message) })
  failing.failing = true
  assert.equal(limitPoints(await harness.collect()), { billing: 3 })
  await harness.collect()
  assert.equal(errors, ['counters unavailable'], 'once, not at every collection')
  failing.failing = false
  assert.equal(limitPoints(await harness.collect()), { billing: 3, orders: 2 })
  failing.failing = true
  await harness.collect()
  assert.equal(errors, ['counters unavailable', 'counters unavailable'], 'again after it had recovered')
  instrumentation.stop()
})

shared('rejects a bad poolNamePrefix or onError, naming option, value and range', () => {
  const registry = createPoolRegistry()
  const cases: [unknown, RegExp][] = [
    ['', /`poolNamePrefix` to be a string of 1 to 100 characters without control characters or credentials \(a label, never a connection string\), got `""` \(string\)/],
    ['x'.repeat(101), /`poolNamePrefix` to be a string of 1 to 100 characters/],
    ['billing\n', /`poolNamePrefix`.*got `"billing\\n"` \(string\)/],
    [42, /`poolNamePrefix`.*got `42` \(number\)/],
  ]
  for (const [value, words] of cases) {
    try {
      instrumentPools(registry, { poolNamePrefix: value } as InstrumentPoolsOptions)
      assert.unreachable(`accepted ${JSON.stringify(value)}`)
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.is((error as InvalidOptionError).option, 'poolNamePrefix')
      assert.match((error as Error).message, words)
    }
  }
  try {
    instrumentPools(registry, { onError: 'log' } as unknown as InstrumentPoolsOptions)
    assert.unreachable('accepted a string onError')
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.match((error as Error).message, /`onError` to be a function, got `"log"` \(string\)/)
  }
})

shared.run()
