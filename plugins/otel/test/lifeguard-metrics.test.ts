import { createPoolRegistry } from '@lifeguard/core'
import { DataPointType, type SumMetricData } from '@opentelemetry/sdk-metrics'
import { setTimeout as sleep } from 'node:timers/promises'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames } from '../src/index.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { allAttributeValues, createMetricsHarness, metric, valueOf, type MetricsHarness } from './_helpers/metrics.js'

const extras = suite<{ harness: MetricsHarness }>('lifeguard.pool.* metrics', { harness: undefined as never })

extras.before.each((context) => {
  context.harness = createMetricsHarness()
})

extras.after.each(async (context) => {
  await context.harness.shutdown()
})

const pool = { [attributeNames.poolName]: 'orders' }

function assertCounter(data: ReturnType<typeof metric>, unit: string): void {
  assert.is(data.descriptor.unit, unit)
  assert.is(data.dataPointType, DataPointType.SUM)
  assert.is((data as SumMetricData).isMonotonic, true, `${data.descriptor.name} is a Counter`)
}

extras('lifeguard.pool.errors counts errors by source and never carries their text', async ({ harness }) => {
  const registry = createPoolRegistry()
  const orders = registry.register(new MemoryPool('orders', { secrets: ['s3cret'], target: 'postgres://app@db:5432/orders' }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  orders.fail(new Error('password authentication failed for postgres://app:s3cret@db:5432/orders'))
  orders.fail(new Error('connection reset; password=s3cret'))
  const metrics = await harness.collect()
  assertCounter(metric(metrics, metricNames.errors), '{error}')
  assert.is(valueOf(metrics, metricNames.errors, { ...pool, [attributeNames.errorSource]: 'connection' }), 2)
  for (const value of allAttributeValues(metrics)) {
    assert.not.match(value, /s3cret|postgres:\/\/|password|reset/, `attribute value '${value}' leaks error or target text`)
  }
  instrumentation.stop()
  await registry.close()
})

extras('lifeguard.pool.leaks counts a suspected leak once, not its resolution', async ({ harness }) => {
  const registry = createPoolRegistry()
  const orders = registry.register(new MemoryPool('orders', { leakDetectionMillis: 20 }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const resolved = new Promise<void>((resolve) => orders.on('leak', (event) => {
      if (event.state === 'resolved') resolve()
    }))
  const release = await orders.acquire()
  await sleep(80)
  release()
  await resolved
  const metrics = await harness.collect()
  assertCounter(metric(metrics, metricNames.leaks), '{leak}')
  assert.is(valueOf(metrics, metricNames.leaks, pool), 1)
  instrumentation.stop()
  await registry.close()
})

extras('lifeguard.pool.resizes counts changes by direction and db.client.connection.limit follows', async ({ harness }) => {
  const registry = createPoolRegistry()
  const orders = registry.register(new MemoryPool('orders', { minSize: 1, maxSize: 2 }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  orders.resize({ maxSize: 5 })
  orders.resize({ maxSize: 3 }, { reason: 'utilization 12% <= 20% at 2024-01-01T00:00:00Z' })
  orders.resize({ minSize: 2 })
  const metrics = await harness.collect()
  assertCounter(metric(metrics, metricNames.resizes), '{resize}')
  const direction = (value: string) => ({ ...pool, [attributeNames.resizeDirection]: value })
  assert.is(valueOf(metrics, metricNames.resizes, direction('grow')), 1)
  assert.is(valueOf(metrics, metricNames.resizes, direction('shrink')), 1)
  assert.is(valueOf(metrics, metricNames.resizes, direction('same')), 1)
  assert.is(valueOf(metrics, metricNames.limit, pool), 3)
  assert.is(valueOf(metrics, metricNames.idleMin, pool), 2)
  assert.not.ok(allAttributeValues(metrics).some((value) => value.includes('utilization')), 'the free-text reason is not an attribute')
  instrumentation.stop()
  await registry.close()
})

extras('every counter of a pool starts at 0 when it is instrumented, so rate() and increase() see the first event', async ({ harness }) => {
  const registry = createPoolRegistry()
  registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.timeouts, pool), 0)
  assert.is(valueOf(metrics, metricNames.leaks, pool), 0)
  for (const source of ['connection', 'idle-connection', 'pool', 'listener']) {
    assert.is(valueOf(metrics, metricNames.errors, { ...pool, [attributeNames.errorSource]: source }), 0, `errors from ${source}`)
  }
  for (const direction of ['grow', 'shrink', 'same']) {
    assert.is(valueOf(metrics, metricNames.resizes, { ...pool, [attributeNames.resizeDirection]: direction }), 0, `resizes to ${direction}`)
  }
  instrumentation.stop()
  await registry.close()
})

extras.run()
