import type { Meter, MeterProvider as ApiMeterProvider } from '@opentelemetry/api'
import { createPoolRegistry } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { instrumentPools, metricNames } from '../src/index.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { AggregationTemporality, MeterProvider, type MetricData } from '@opentelemetry/sdk-metrics'
import { collected } from '@lifeguard/test-kit'
import { createMetricsHarness, findPoint, histogramOf, metric, valueOf, type MetricsHarness } from './_helpers/metrics.js'

const lifecycle = suite<{ harness: MetricsHarness }>('instrumentPools lifecycle', { harness: undefined as never })

lifecycle.before.each((context) => {
  context.harness = createMetricsHarness()
})

lifecycle.after.each(async (context) => {
  await context.harness.shutdown()
})

const poolName = (name: string) => ({ 'db.client.connection.pool.name': name })

lifecycle('reports pools registered before and after it started, each under its own name', async ({ harness }) => {
  const registry = createPoolRegistry()
  const early = registry.register(new MemoryPool('early', { maxSize: 3 }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const late = registry.register(new MemoryPool('late', { maxSize: 7 }))
  assert.equal(instrumentation.pools, ['early', 'late'])
  const release = await late.acquire()
  const metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.limit, poolName('early')), 3)
  assert.is(valueOf(metrics, metricNames.limit, poolName('late')), 7)
  assert.is(valueOf(metrics, metricNames.connectionCount, { ...poolName('late'), 'db.client.connection.state': 'used' }), 1)
  assert.is(valueOf(metrics, metricNames.connectionCount, { ...poolName('early'), 'db.client.connection.state': 'used' }), 0)
  release()
  instrumentation.stop()
  assert.is(early.listenerCount, 0)
})

const gauges = [metricNames.connectionCount, metricNames.idleMax, metricNames.idleMin, metricNames.limit, metricNames.pendingRequests]

function pointsOf(metrics: MetricData[], pool: string): number[] {
  return gauges.flatMap((name) => {
    const data = metrics.find((m) => m.descriptor.name === name)
    return (data?.dataPoints ?? []).filter((p) => p.attributes['db.client.connection.pool.name'] === pool).map((p) => p.value as number)
  })
}

lifecycle('a pool closed on its own, or removed by registry.close(), reports zeros once and is never read again', async ({ harness }) => {
  const registry = createPoolRegistry()
  const kept = registry.register(new MemoryPool('kept', { minSize: 1 }))
  const closed = registry.register(new MemoryPool('closed', { minSize: 1 }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const release = await closed.acquire()
  assert.equal(pointsOf(await harness.collect(), 'closed'), [1, 0, 2, 1, 2, 0], 'used, idle, idle.max, idle.min, limit, pending while open')
  assert.ok(closed.listenerCount > 0, 'listeners attached to the pool')
  release()
  await closed.close()
  assert.equal(instrumentation.pools, ['kept'], 'a pool closed on its own is no longer listed, before any collection')
  const metrics = await harness.collect()
  assert.equal(pointsOf(metrics, 'closed'), [0, 0, 0, 0, 0, 0], 'a closed pool has no connections and allows none')
  assert.ok(valueOf(metrics, metricNames.limit, poolName('kept')) === 2, 'open pool still reports')
  assert.is(closed.listenerCount, 0, 'listeners of the closed pool removed')
  assert.equal(instrumentation.pools, ['kept'])

  await registry.close()
  assert.is(kept.listenerCount, 0, 'registry.close() detaches the remaining pool')
  assert.equal(instrumentation.pools, [])
  const callsBefore = kept.metricsCalls + closed.metricsCalls
  assert.equal(pointsOf(await harness.collect(), 'kept'), [0, 0, 0, 0, 0, 0])
  await harness.collect()
  assert.is(kept.metricsCalls + closed.metricsCalls, callsBefore, 'closed pools are never read again')
  instrumentation.stop()
})

lifecycle('parked and closing connections are reported on lifeguard.pool.connections, zeroed when the pool closes; a pool that cannot tell has no such series', async ({ harness }) => {
  const registry = createPoolRegistry()
  const engine = registry.register(new MemoryPool('engine', { outside: { parkedConnections: 3, closingConnections: 1 } }))
  registry.register(new MemoryPool('driver'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const outside = (pool: string, state: string) => ({ ...poolName(pool), 'lifeguard.connection.state': state })

  let metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'parked')), 3)
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'closing')), 1)
  assert.is(findPoint(metric(metrics, metricNames.outsideConnections), poolName('driver')), undefined, 'no series for a pool without the numbers, rather than a false 0')

  const counts = engine.outside as { parkedConnections: number; closingConnections: number }
  counts.parkedConnections = 0
  counts.closingConnections = 2
  metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'parked')), 0)
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'closing')), 2)

  await engine.close()
  metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'parked')), 0)
  assert.is(valueOf(metrics, metricNames.outsideConnections, outside('engine', 'closing')), 0, 'a closed pool holds no server connection')
  instrumentation.stop()
  await registry.close()
})

lifecycle('with delta temporality, a closed pool disappears after its closing report', async () => {
  const harness = createMetricsHarness(AggregationTemporality.DELTA)
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  assert.is(pointsOf(await harness.collect(), 'orders').length, 6)
  await registry.close()
  assert.is(pointsOf(await harness.collect(), 'orders').length, 6, 'the closing report')
  assert.is(pointsOf(await harness.collect(), 'orders').length, 0, 'then nothing')
  assert.is(pool.metricsCalls, 1)
  instrumentation.stop()
  await harness.shutdown()
})

lifecycle('stop() removes the pool listeners, the registry subscription and the metric callback', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  pool.on('acquire', () => undefined) // the application's own listener stays
  // Counts the callbacks the plugin removes from its meter.
  let removed = 0
  const meterProvider: ApiMeterProvider = {
    getMeter(...args: Parameters<ApiMeterProvider['getMeter']>) {
      const meter = harness.meterProvider.getMeter(...args)
      return Object.assign(Object.create(meter) as Meter, {
        removeBatchObservableCallback: (...removing: Parameters<Meter['removeBatchObservableCallback']>) => {
          removed++
          meter.removeBatchObservableCallback(...removing)
        },
      })
    },
  }
  const instrumentation = instrumentPools(registry, { meterProvider })
  assert.ok(pool.listenerCount > 1)
  instrumentation.stop()
  instrumentation.stop()
  assert.is(instrumentation.active, false)
  assert.is(pool.listenerCount, 1, 'only the application listener is left')
  const calls = pool.metricsCalls
  // The pool's last report: zeros, or the SDK would export its last live numbers for good.
  const last = await harness.collect()
  assert.is(pool.metricsCalls, calls, 'the pool is no longer read')
  assert.equal(pointsOf(last, 'orders').filter((value) => value !== 0), [], 'every gauge of the pool reads 0')
  assert.ok(pointsOf(last, 'orders').length > 0)
  assert.is(removed, 1, 'then the observable callback is gone')
  await harness.collect()
  assert.is(removed, 1)
  const later = registry.register(new MemoryPool('later'))
  assert.is(later.listenerCount, 0, 'the registry subscription is gone')
  await registry.close()
})

lifecycle('every sample reaches the SDK: many checkouts between collections, and the ones just before stop()', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const checkouts = async (count: number) => {
    for (let i = 0; i < count; i++) {
      const release = await pool.acquire()
      pool.query(0.5, 'SELECT')
      release()
    }
  }
  await checkouts(1000)
  let metrics = await harness.collect()
  assert.is(histogramOf(metrics, metricNames.waitTime, poolName('orders')).count, 1000)
  assert.is(histogramOf(metrics, metricNames.useTime, poolName('orders')).count, 1000)
  assert.is(histogramOf(metrics, metricNames.operationDuration, poolName('orders')).count, 1000)
  await checkouts(7)
  instrumentation.stop()
  metrics = await harness.collect()
  assert.is(histogramOf(metrics, metricNames.waitTime, poolName('orders')).count, 1007)
  assert.is(histogramOf(metrics, metricNames.operationDuration, poolName('orders')).count, 1007)
  await registry.close()
})

lifecycle('with nothing collecting (a provider without a reader), a removed pool and a stopped instrumentation keep no pool alive', async () => {
  const unread = new MeterProvider()
  const registry = createPoolRegistry()
  const instrumentation = instrumentPools(registry, { meterProvider: unread })
  const removed = new WeakRef(registry.register(new MemoryPool('removed')))
  await registry.close()
  assert.ok(await collected(removed), 'the pool removed from the registry is held until a collection that never comes')
  const stopped = new WeakRef(registry.register(new MemoryPool('stopped')))
  instrumentation.stop()
  await registry.close()
  assert.ok(await collected(stopped), 'the pool of a stopped instrumentation is held until a collection that never comes')
  await unread.shutdown()
})

lifecycle('1,000 start/stop cycles leave listener counts and callbacks at their baseline', async ({ harness }) => {
  const registry = createPoolRegistry()
  const a = registry.register(new MemoryPool('a'))
  const b = registry.register(new MemoryPool('b', { kind: 'postgres' }))
  a.on('error', () => undefined)
  const baseline = [a.listenerCount, b.listenerCount]
  for (let i = 0; i < 1000; i++) {
    const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
    if (i % 2 === 1) {
      instrumentation.stop()
    } else {
      using _scoped = instrumentation
    }
  }
  assert.equal([a.listenerCount, b.listenerCount], baseline)
  await harness.collect()
  assert.is(a.metricsCalls + b.metricsCalls, 0, 'no callback survived a stop')
  const added = registry.register(new MemoryPool('added-after'))
  assert.is(added.listenerCount, 0, 'no registry subscription survived a stop')

  // One more instrumentation still works and reports each pool exactly once.
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const release = await b.acquire()
  const metrics = await harness.collect()
  assert.is(a.metricsCalls, 1)
  assert.is(metric(metrics, metricNames.connectionCount).dataPoints.length, 6, 'idle + used for each of 3 pools')
  assert.is(valueOf(metrics, metricNames.connectionCount, { ...poolName('b'), 'db.client.connection.state': 'used' }), 1)
  release()
  instrumentation.stop()
  assert.equal([a.listenerCount, b.listenerCount, added.listenerCount], [...baseline, 0])
  await registry.close()
})

lifecycle('collections read each pool\'s counters only; a pool without getPoolCounters() is read through getPoolMetrics()', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders', { maxSize: 3 }))
  const legacy = registry.register(new MemoryPool('legacy', { maxSize: 5 }))
  // A pool of another author's that predates the counters read.
  Object.defineProperty(legacy, 'getPoolCounters', { value: undefined })
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const release = await pool.acquire()
  for (let i = 0; i < 3; i++) await harness.collect()
  const metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.connectionCount, { ...poolName('orders'), 'db.client.connection.state': 'used' }), 1)
  assert.is(valueOf(metrics, metricNames.limit, poolName('legacy')), 5)
  assert.is(pool.metricsCalls, 4, 'one read per collection')
  assert.is(pool.fullMetricsCalls, 0, 'no window sorted for a scrape')
  assert.is(legacy.fullMetricsCalls, 4)
  release()
  instrumentation.stop()
  await registry.close()
})

// A pool that counts requests refused at once, as core's engine does.
class RejectingPool extends MemoryPool {
  rejected = 0

  override getPoolCounters() {
    return { ...super.getPoolCounters(), rejectedRequests: this.rejected, abandonedWaits: 0 }
  }
}

lifecycle('a pool replaced under its name carries on its rejections counter: it never goes back', async ({ harness }) => {
  const registry = createPoolRegistry()
  const first = registry.register(new RejectingPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const exhausted = { ...poolName('orders'), 'lifeguard.rejection.reason': 'exhausted' }
  first.rejected = 5
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 5)
  first.rejected = 8
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 8)
  // It closes on its own; the collection after sees it closed and drops it.
  await first.close()
  await harness.collect()
  const second = registry.register(new RejectingPool('orders'))
  second.rejected = 2
  // Before, the counter read 2: a reset under cumulative temporality, a negative delta under delta.
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 10)
  // The instrumentation replaced too (a registry rebuilt on reload), with its pool: the count still goes on.
  instrumentation.stop()
  await harness.collect()
  await second.close()
  const reloaded = createPoolRegistry()
  const third = reloaded.register(new RejectingPool('orders'))
  third.rejected = 1
  const again = instrumentPools(reloaded, { meterProvider: harness.meterProvider })
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 11)
  // The same pool reported again on the same provider: its counts go on, not added twice.
  again.stop()
  await harness.collect()
  const once = instrumentPools(reloaded, { meterProvider: harness.meterProvider })
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 11)
  third.rejected = 2
  assert.is(valueOf(await harness.collect(), metricNames.rejections, exhausted), 12)
  once.stop()
})

lifecycle.run()
