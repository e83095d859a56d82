import { ConnectionLostError, createPoolRegistry, createServiceContainer, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames } from '../src/index.js'
import { errorType, QueryAttributes, responseStatusCode } from '../src/internal/query-attributes.js'
import { MemoryPool } from './_helpers/memory-pool.js'
import { createMetricsHarness, histogramOf, metric, type MetricsHarness } from './_helpers/metrics.js'

const duration = suite<{ harness: MetricsHarness }>('db.client.operation.duration', { harness: undefined as never })

duration.before.each((context) => {
  context.harness = createMetricsHarness()
})

duration.after.each(async (context) => {
  await context.harness.shutdown()
})

const base = { [attributeNames.poolName]: 'orders', [attributeNames.systemName]: 'postgresql' }

duration('one sample per statement, in seconds, labelled with its kind, its failure and, with routeAttributes, its route', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders', { kind: 'postgres' }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider, routeAttributes: true })
  const container = createServiceContainer()
  await runOperation('orders-api', 'GET /orders/:id', async () => {
    pool.query(4, 'SELECT')
    pool.query(6, 'SELECT')
    pool.query(1, 'SELECT', Object.assign(new Error('duplicate key value violates unique constraint "orders_pkey"'), { code: '23505' }))
    pool.query(2)
  }, { container })
  pool.query(3, 'COMMIT')
  pool.query(9, 'SELECT', new ConnectionLostError('orders', 'run a query', true, { cause: new Error('Connection terminated unexpectedly') }))
  const metrics = await harness.collect()
  const route = { ...base, [attributeNames.operationHandler]: 'orders-api', [attributeNames.operationName]: 'GET /orders/:id' }
  const selects = histogramOf(metrics, metricNames.operationDuration, { ...route, [attributeNames.dbOperationName]: 'SELECT' })
  assert.is(selects.count, 2)
  assert.is(selects.sum, 0.01)
  assert.is(histogramOf(metrics, metricNames.operationDuration, { ...route, [attributeNames.dbOperationName]: 'SELECT', [attributeNames.errorType]: '23505' }).count, 1)
  assert.is(histogramOf(metrics, metricNames.operationDuration, { ...base, [attributeNames.dbOperationName]: 'COMMIT' }).count, 1)
  assert.is(histogramOf(metrics, metricNames.operationDuration, { ...base, [attributeNames.errorType]: 'ERR_CONNECTION_LOST' }).count, 1)
  const points = metric(metrics, metricNames.operationDuration).dataPoints
  assert.is(points.length, 5)
  const unnamed = points.find((p) => p.attributes[attributeNames.dbOperationName] === undefined)
  assert.equal(Object.keys(unnamed?.attributes ?? {}).sort(), Object.keys(route).sort(), 'a statement of unknown kind has no db.operation.name')
  assert.not.ok(JSON.stringify(points.map((p) => p.attributes)).includes('duplicate'), 'no error message')
  const commit = points.find((p) => p.attributes[attributeNames.dbOperationName] === 'COMMIT')
  assert.equal(Object.keys(commit?.attributes ?? {}).sort(), [attributeNames.dbOperationName, attributeNames.poolName, attributeNames.systemName].sort(), 'outside an operation: no route')
  instrumentation.stop()
  await registry.close()
})

duration('by default the samples carry no route: one series per pool, statement kind and failure', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders', { kind: 'postgres' }))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  const container = createServiceContainer()
  await runOperation('orders-api', 'GET /orders/:id', async () => pool.query(4, 'SELECT'), { container })
  await runOperation('billing-worker', 'charge', async () => pool.query(6, 'SELECT'), { container })
  const metrics = await harness.collect()
  const points = metric(metrics, metricNames.operationDuration).dataPoints
  assert.is(points.length, 1)
  assert.equal(points[0]?.attributes, { ...base, [attributeNames.dbOperationName]: 'SELECT' })
  assert.is(histogramOf(metrics, metricNames.operationDuration, base).count, 2)
  instrumentation.stop()
  await registry.close()
})

duration('checkouts feed use_time and wait_time only: a held connection is not an operation', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider })
  ;(await pool.acquire())()
  const metrics = await harness.collect()
  assert.is(histogramOf(metrics, metricNames.useTime, { [attributeNames.poolName]: 'orders' }).count, 1)
  assert.is(metrics.find((m) => m.descriptor.name === metricNames.operationDuration)?.dataPoints.length ?? 0, 0)
  instrumentation.stop()
  await registry.close()
})

duration('operationDuration: false does not even listen to query events', async ({ harness }) => {
  const registry = createPoolRegistry()
  const pool = registry.register(new MemoryPool('orders'))
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider, operationDuration: false })
  assert.not.ok(pool.hasListeners('query'), 'no query listener, so adapters do not time statements')
  assert.ok(pool.hasListeners('release'))
  instrumentation.stop()
  await registry.close()
})

const attributes = suite('QueryAttributes')

attributes('builds each attribute set once and hands the same object back, so recording allocates nothing', async () => {
  const cache = new QueryAttributes(base)
  const container = createServiceContainer()
  await runOperation('orders-api', 'GET /orders/:id', async (context) => {
    assert.is(cache.of(context, 'SELECT', undefined), cache.of(context, 'SELECT', undefined))
    const failure = Object.assign(new Error('boom'), { code: '40001' })
    assert.is(cache.of(context, 'SELECT', failure), cache.of(context, 'SELECT', Object.assign(new Error('again'), { code: '40001' })))
    assert.is.not(cache.of(context, 'SELECT', undefined), cache.of(context, 'INSERT', undefined))
    assert.is(cache.of(context, undefined, undefined), cache.of(context, undefined, undefined))
  }, { container })
  assert.is(cache.of(undefined, 'SELECT', undefined), cache.of(undefined, 'SELECT', undefined))
})

attributes("a failure's cached attributes carry its own status code: one error type may wrap several, or none", () => {
  const cache = new QueryAttributes({ 'db.system.name': 'postgresql' })
  const serverError = (code: string) => Object.assign(new Error('x'), { code, severity: 'ERROR' })
  const wrapping = (cause?: Error) => Object.assign(new Error('refused', cause === undefined ? undefined : { cause }), { code: 'ERR_POSTGRES_READ_ONLY' })
  const statusOf = (error: Error) => cache.of(undefined, 'INSERT', error)['db.response.status_code']
  assert.is(statusOf(wrapping(serverError('25006'))), '25006')
  assert.is(statusOf(wrapping()), undefined)
  assert.is(statusOf(wrapping(serverError('57P01'))), '57P01')
  // A type that is its own status code (a server's error) and the same code without one (a client's) differ.
  assert.is(statusOf(Object.assign(new Error('x'), { code: '40001' })), undefined)
  assert.is(statusOf(serverError('40001')), '40001')
  assert.is(cache.of(undefined, 'INSERT', wrapping(serverError('25006'))), cache.of(undefined, 'INSERT', wrapping(serverError('25006'))), 'still cached')
})

attributes('error.type: a code when the error has one, else the class name', () => {
  assert.is(errorType(Object.assign(new Error('x'), { code: '23505' })), '23505')
  assert.is(errorType(Object.assign(new Error('x'), { code: 11000 })), '11000')
  assert.is(errorType(new TypeError('x')), 'TypeError')
  assert.is(errorType(Object.assign(new Error('x'), { code: { nested: true } })), 'Error')
  assert.is(errorType(Object.assign(new Error('x'), { name: '' })), '_OTHER')
})

attributes('db.response.status_code: the code the server answered with, also inside an adapter\'s own error; nothing else', () => {
  const serverError = (code: string) => Object.assign(new Error('x'), { code, severity: 'ERROR' })
  assert.is(responseStatusCode(serverError('23505')), '23505')
  assert.is(responseStatusCode(Object.assign(new Error('x'), { code: 11000 })), '11000')
  // The adapter's read-only refusal wraps the server's 25006.
  assert.is(responseStatusCode(Object.assign(new Error('x', { cause: serverError('25006') }), { code: 'ERR_POSTGRES_READ_ONLY' })), '25006')
  for (const error of [Object.assign(new Error('x'), { code: 'EPIPE' }), Object.assign(new Error('x'), { code: 'ERR_CONNECTION_LOST' }), new TypeError('x')]) {
    assert.is(responseStatusCode(error), undefined, error.message)
  }
})

duration.run()
attributes.run()
