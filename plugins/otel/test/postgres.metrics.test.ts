import { createPoolRegistry, createServiceContainer, OperationAbortedError, PoolExhaustedError, PoolTimeoutError, runOperation, type PoolRegistry, type ServiceContainer } from '@lifeguard/core'
import { createPostgresHandle, createPostgresPool, registerPostgres, type PostgresHandle, type PostgresPool, type PostgresPoolClient } from '@lifeguard/postgres'
import { DataPointType, type HistogramMetricData, type MetricData, type SumMetricData } from '@opentelemetry/sdk-metrics'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames, operationDurationBuckets, poolTimeBuckets, type PoolInstrumentation } from '../src/index.js'
import { createMetricsHarness, histogramOf, metric, valueOf, type MetricsHarness } from './_helpers/metrics.js'
import { pgConfig, serverConnections, uniqueAppName, waitForServerConnections } from './_helpers/pg.js'
import { rejects } from '@lifeguard/test-kit'

interface Context {
  harness: MetricsHarness
  registry: PoolRegistry
  orders: PostgresPool
  billing: PostgresPool
  container: ServiceContainer<any>
  instrumentation: PoolInstrumentation
  appNames: string[]
}

const pg = suite<Context>('PostgreSQL pool metrics', {} as Context)

const ORDERS_MAX = 3
const orders = { [attributeNames.poolName]: 'orders' }
const billing = { [attributeNames.poolName]: 'billing' }
const used = (pool: Record<string, string>) => ({ ...pool, [attributeNames.connectionState]: 'used' })
const idle = (pool: Record<string, string>) => ({ ...pool, [attributeNames.connectionState]: 'idle' })

pg.before(async (context) => {
  context.harness = createMetricsHarness()
  context.appNames = [uniqueAppName('otel-orders'), uniqueAppName('otel-billing')]
  const registry = createPoolRegistry()
  // Same kind, same server, same database: only the name tells them apart.
  context.orders = registry.register(
    createPostgresPool({ name: 'orders', ...pgConfig(), applicationName: context.appNames[0] as string, minSize: 1, maxSize: ORDERS_MAX, acquireTimeoutMillis: 500 }),
  )
  context.billing = registry.register(createPostgresPool({ name: 'billing', ...pgConfig(), applicationName: context.appNames[1] as string, minSize: 2, maxSize: 5 }))
  context.registry = registry
  context.instrumentation = instrumentPools(registry, { meterProvider: context.harness.meterProvider, routeAttributes: true })
  await registry.warmup()
  const container = createServiceContainer()
  registerPostgres(container, context.orders)
  registerPostgres(container, context.billing, { name: 'billing' })
  context.container = container
})

pg.after(async (context) => {
  context.instrumentation.stop()
  await context.registry.close()
  await context.harness.shutdown()
  for (const appName of context.appNames) await waitForServerConnections(appName, 0)
})

function histogramPointCount(metrics: MetricData[], name: string, attributes: Record<string, string>): number {
  const data = metric(metrics, name)
  const point = data.dataPoints.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v))
  return point === undefined ? 0 : (point.value as { count: number }).count
}

async function hold(pool: PostgresPool, count: number): Promise<PostgresPoolClient[]> {
  return Promise.all(Array.from({ length: count }, () => pool.connect()))
}

pg('emits the nine connection metrics and the operation duration with the conventions\' names, units and kinds', async ({ harness, orders: pool, container }) => {
  // A timeout, so that every instrument has a point.
  const clients = await hold(pool, ORDERS_MAX)
  await rejects(pool.connect(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  for (const client of clients) client.release()
  await runOperation('orders-api', 'GET /orders/:id', (context) => context.postgres.query('SELECT 1'), { container })
  const metrics = await harness.collect()
  const expected: [string, string, 'updowncounter' | 'counter' | 'histogram'][] = [
    [metricNames.connectionCount, '{connection}', 'updowncounter'],
    [metricNames.idleMax, '{connection}', 'updowncounter'],
    [metricNames.idleMin, '{connection}', 'updowncounter'],
    [metricNames.limit, '{connection}', 'updowncounter'],
    [metricNames.pendingRequests, '{request}', 'updowncounter'],
    [metricNames.timeouts, '{timeout}', 'counter'],
    [metricNames.createTime, 's', 'histogram'],
    [metricNames.waitTime, 's', 'histogram'],
    [metricNames.useTime, 's', 'histogram'],
    [metricNames.operationDuration, 's', 'histogram'],
  ]
  assert.equal(
    expected.map(([name]) => name),
    [
      'db.client.connection.count',
      'db.client.connection.idle.max',
      'db.client.connection.idle.min',
      'db.client.connection.limit',
      'db.client.connection.pending_requests',
      'db.client.connection.timeouts',
      'db.client.connection.create_time',
      'db.client.connection.wait_time',
      'db.client.connection.use_time',
      'db.client.operation.duration',
    ],
  )
  for (const [name, unit, kind] of expected) {
    const data = metric(metrics, name)
    assert.is(data.descriptor.unit, unit, `${name} unit`)
    assert.ok(data.descriptor.description.length > 0, `${name} has a description`)
    if (kind === 'histogram') {
      assert.is(data.dataPointType, DataPointType.HISTOGRAM, `${name} is a Histogram`)
      const boundaries = (data as HistogramMetricData).dataPoints[0]?.value.buckets.boundaries
      assert.equal(boundaries, [...(name === metricNames.operationDuration ? operationDurationBuckets : poolTimeBuckets)], `${name} buckets`)
    } else {
      assert.is(data.dataPointType, DataPointType.SUM, `${name} is a sum`)
      assert.is((data as SumMetricData).isMonotonic, kind === 'counter', `${name} is a${kind === 'counter' ? ' Counter' : 'n UpDownCounter'}`)
    }
    for (const point of data.dataPoints) {
      assert.ok(['orders', 'billing'].includes(point.attributes[attributeNames.poolName] as string), `${name} point names its pool`)
    }
  }
  assert.equal(
    (metric(metrics, metricNames.operationDuration) as HistogramMetricData).dataPoints[0]?.value.buckets.boundaries,
    [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
  )
})

pg('count{state=used} equals the clients held, per pool, and used + idle matches the server', async ({ harness, orders: pool, billing: other, appNames }) => {
  const ordersClients = await hold(pool, 2)
  const billingClients = await hold(other, 1)
  const metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.connectionCount, used(orders)), 2)
  assert.is(valueOf(metrics, metricNames.connectionCount, used(billing)), 1)
  const ordersOpen = valueOf(metrics, metricNames.connectionCount, used(orders)) + valueOf(metrics, metricNames.connectionCount, idle(orders))
  const billingOpen = valueOf(metrics, metricNames.connectionCount, used(billing)) + valueOf(metrics, metricNames.connectionCount, idle(billing))
  assert.is(ordersOpen, await serverConnections(appNames[0] as string), 'orders: used + idle = server backends')
  assert.is(billingOpen, await serverConnections(appNames[1] as string), 'billing: used + idle = server backends')
  for (const client of [...ordersClients, ...billingClients]) client.release()
  const after = await harness.collect()
  assert.is(valueOf(after, metricNames.connectionCount, used(orders)), 0)
  assert.is(valueOf(after, metricNames.connectionCount, used(billing)), 0)
  assert.is(valueOf(after, metricNames.connectionCount, idle(orders)), ordersOpen)
})

pg('wait_time and use_time have one sample per checkout, in the pool that served it', async ({ harness, orders: pool, container }) => {
  const before = await harness.collect()
  const waits = histogramPointCount(before, metricNames.waitTime, orders)
  const uses = histogramPointCount(before, metricNames.useTime, orders)
  const billingWaits = histogramPointCount(before, metricNames.waitTime, billing)
  await runOperation('orders-api', 'GET /orders', async (context) => {
    for (let i = 0; i < 4; i++) await context.postgres.query('SELECT $1::int', [i])
  }, { container })
  const client = await pool.connect()
  client.release()
  const after = await harness.collect()
  assert.is(histogramPointCount(after, metricNames.waitTime, orders), waits + 5)
  assert.is(histogramPointCount(after, metricNames.useTime, orders), uses + 5)
  assert.is(histogramPointCount(after, metricNames.waitTime, billing), billingWaits, 'billing untouched')
  const wait = histogramOf(after, metricNames.waitTime, orders)
  assert.ok(wait.sum !== undefined && wait.sum >= 0 && wait.sum < 5, `wait sum in seconds, got ${wait.sum}`)
})

pg('pending_requests shows the waiters and timeouts counts the timeouts the test caused', async ({ harness, orders: pool }) => {
  const before = await harness.collect()
  const timeoutsBefore = valueOf(before, metricNames.timeouts, orders)
  const clients = await hold(pool, ORDERS_MAX)
  const waiters = [pool.connect(), pool.connect()]
  const waiting = await harness.collect()
  assert.is(valueOf(waiting, metricNames.pendingRequests, orders), 2)
  assert.is(valueOf(waiting, metricNames.pendingRequests, billing), 0)
  assert.is(valueOf(waiting, metricNames.connectionCount, used(orders)), ORDERS_MAX)
  assert.is(valueOf(waiting, metricNames.limit, orders), ORDERS_MAX)
  for (const waiter of waiters) await rejects(waiter, PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  for (const client of clients) client.release()
  const after = await harness.collect()
  assert.is(valueOf(after, metricNames.timeouts, orders), timeoutsBefore + 2)
  assert.is(valueOf(after, metricNames.pendingRequests, orders), 0)
  assert.is(valueOf(after, metricNames.timeouts, billing), 0, 'billing has no timeouts')
})

pg('lifeguard.pool.rejections counts requests refused at once and waits their operation ended, apart from timeouts', async ({ harness, registry, container, appNames }) => {
  const appName = uniqueAppName('otel-shed')
  appNames.push(appName)
  const shed = registry.register(createPostgresPool({ name: 'shed', ...pgConfig(), applicationName: appName, maxSize: 1, maxWaitingRequests: 1, acquireTimeoutMillis: 5_000 }))
  const holder = await shed.connect()
  const caller = new AbortController()
  // Waits behind the holder until its caller gives up (a deadline, a client gone)...
  const abandoned = runOperation('api', 'GET /shed', (context) => createPostgresHandle(shed, context).query('SELECT 1'), { container, signal: caller.signal })
  // ... and, with one already waiting, the next is refused at once.
  await rejects(shed.query('SELECT 1'), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  caller.abort(new Error('client gone'))
  await rejects(abandoned, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  holder.release()
  const metrics = await harness.collect()
  const pool = { [attributeNames.poolName]: 'shed' }
  assert.is(valueOf(metrics, metricNames.rejections, { ...pool, [attributeNames.rejectionReason]: 'exhausted' }), 1)
  assert.is(valueOf(metrics, metricNames.rejections, { ...pool, [attributeNames.rejectionReason]: 'aborted' }), 1)
  assert.is(valueOf(metrics, metricNames.timeouts, pool), 0)
  const data = metric(metrics, metricNames.rejections)
  assert.equal([data.descriptor.unit, data.dataPointType, (data as SumMetricData).isMonotonic], ['{request}', DataPointType.SUM, true])
  assert.equal([shed.getPoolMetrics().rejectedRequests, shed.getPoolMetrics().abandonedWaits], [1, 1])
})

pg('db.client.connection.limit and idle.max follow resize, idle.min follows minSize', async ({ harness, billing: pool }) => {
  pool.resize({ maxSize: 8 })
  let metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.limit, billing), 8)
  assert.is(valueOf(metrics, metricNames.idleMax, billing), 8)
  assert.is(valueOf(metrics, metricNames.limit, orders), ORDERS_MAX, 'orders keeps its own size')
  pool.resize({ minSize: 1, maxSize: 4 })
  metrics = await harness.collect()
  assert.is(valueOf(metrics, metricNames.limit, billing), 4)
  assert.is(valueOf(metrics, metricNames.idleMin, billing), 1)
  assert.is(valueOf(metrics, metricNames.resizes, { ...billing, [attributeNames.resizeDirection]: 'grow' }), 1)
  assert.is(valueOf(metrics, metricNames.resizes, { ...billing, [attributeNames.resizeDirection]: 'shrink' }), 1)
  pool.resize({ minSize: 2, maxSize: 5 })
})

pg('lifeguard.pool.connections counts what a shrink kept open, and used + idle + parked matches the server', async ({ harness, billing: pool, appNames }) => {
  const outside = (state: string) => ({ ...billing, [attributeNames.outsideConnectionState]: state })
  for (const client of await hold(pool, 4)) client.release()
  const open = valueOf(await harness.collect(), metricNames.connectionCount, idle(billing))
  assert.ok(open >= 4, `at least the four held connections are open, got ${open}`)

  pool.resize({ minSize: 1, maxSize: 2 }, { keepSurplusMillis: 60_000 })
  const shrunk = await harness.collect()
  assert.is(valueOf(shrunk, metricNames.outsideConnections, outside('parked')), open - 2)
  assert.is(valueOf(shrunk, metricNames.outsideConnections, outside('closing')), 0, 'nothing closed')
  assert.is(valueOf(shrunk, metricNames.connectionCount, idle(billing)), 2)
  assert.is(valueOf(shrunk, metricNames.outsideConnections, { ...orders, [attributeNames.outsideConnectionState]: 'parked' }), 0, 'orders parked nothing')
  const held = valueOf(shrunk, metricNames.connectionCount, used(billing)) + valueOf(shrunk, metricNames.connectionCount, idle(billing)) + valueOf(shrunk, metricNames.outsideConnections, outside('parked'))
  assert.is(held, await serverConnections(appNames[1] as string), 'used + idle + parked = server backends')

  pool.resize({ minSize: 2, maxSize: 5 })
  const grown = await harness.collect()
  assert.is(valueOf(grown, metricNames.outsideConnections, outside('parked')), 0, 'the grow took them back')
  assert.is(valueOf(grown, metricNames.connectionCount, idle(billing)), open)
  assert.is(await serverConnections(appNames[1] as string), open, 'without opening new ones')
})

pg('db.client.operation.duration has one sample per statement, with its kind and the operation that ran it', async ({ harness, container }) => {
  await runOperation('orders-api', 'GET /orders/:id/items', async (context) => {
    for (let i = 0; i < 3; i++) await context.postgres.query('SELECT pg_sleep(0.002)')
    await context.get<PostgresHandle>('billing').query('SELECT 1')
    await context.postgres.query('SELECT * FROM no_such_table').catch(() => undefined)
  }, { container, requestId: 'req-8f14e45f' })
  await runOperation('billing-worker', 'charge', (context) => context.get<PostgresHandle>('billing').transaction((tx) => tx.query('UPDATE pg_catalog.pg_am SET amname = amname WHERE false')), { container })
  const metrics = await harness.collect()
  const route = (pool: Record<string, string>, handler: string, operation: string, statement: string) => ({
    ...pool,
    [attributeNames.systemName]: 'postgresql',
    [attributeNames.operationHandler]: handler,
    [attributeNames.operationName]: operation,
    [attributeNames.dbOperationName]: statement,
  })
  const selects = histogramOf(metrics, metricNames.operationDuration, route(orders, 'orders-api', 'GET /orders/:id/items', 'SELECT'))
  assert.is(selects.count, 3, 'the failed SELECT has its own series')
  assert.ok(selects.min !== undefined && selects.min >= 0.002, `each query took at least 2ms, got min ${selects.min}s`)
  const failed = histogramOf(metrics, metricNames.operationDuration, { ...route(orders, 'orders-api', 'GET /orders/:id/items', 'SELECT'), [attributeNames.errorType]: '42P01' })
  assert.is(failed.count, 1, 'error.type is the SQLSTATE (undefined table)')
  const failedPoint = metric(metrics, metricNames.operationDuration).dataPoints.find((point) => point.attributes[attributeNames.errorType] === '42P01')
  assert.is(failedPoint?.attributes[attributeNames.responseStatusCode], '42P01', 'db.response.status_code: the server answered with a code')
  assert.is(failedPoint?.attributes[attributeNames.namespace], pgConfig().database, 'db.namespace: the database it ran in')
  assert.is(histogramOf(metrics, metricNames.operationDuration, route(billing, 'orders-api', 'GET /orders/:id/items', 'SELECT')).count, 1)
  for (const statement of ['BEGIN', 'UPDATE', 'COMMIT']) {
    assert.is(histogramOf(metrics, metricNames.operationDuration, route(billing, 'billing-worker', 'charge', statement)).count, 1, `a transaction's ${statement}`)
  }
  const keys = [attributeNames.poolName, attributeNames.systemName, attributeNames.dbOperationName, attributeNames.namespace]
  const routeKeys = [attributeNames.operationHandler, attributeNames.operationName]
  for (const point of metric(metrics, metricNames.operationDuration).dataPoints) {
    const expected = [...keys, ...(point.attributes[attributeNames.operationHandler] === undefined ? [] : routeKeys), ...(point.attributes[attributeNames.errorType] === undefined ? [] : [attributeNames.errorType, attributeNames.responseStatusCode])]
    assert.equal(Object.keys(point.attributes).sort(), expected.sort(), 'no request id or query text among the attributes')
  }
})

pg('db.operation.name is the one operation a text performs: a WITH query its main statement; none for several statements, a data-modifying WITH or an EXPLAIN', async ({ harness, container }) => {
  await runOperation('orders-api', 'POST /orders/purge', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query('CREATE TEMP TABLE purged (a int) ON COMMIT DROP')
      await tx.query('insert into purged values (1); insert into purged values (2)')
      await tx.query('WITH d AS (DELETE FROM purged WHERE a = 1 RETURNING a) SELECT count(*) FROM d')
      await tx.query('EXPLAIN ANALYZE DELETE FROM purged')
      await tx.query('with kept as (select a from purged) select count(*) from kept')
    }), { container })
  const metrics = await harness.collect()
  const route = { ...orders, [attributeNames.operationHandler]: 'orders-api', [attributeNames.operationName]: 'POST /orders/purge' }
  const named = (statement: string) => histogramPointCount(metrics, metricNames.operationDuration, { ...route, [attributeNames.dbOperationName]: statement })
  assert.equal(['BEGIN', 'CREATE', 'INSERT', 'DELETE', 'EXPLAIN', 'WITH', 'SELECT', 'COMMIT'].map(named), [1, 1, 0, 0, 0, 0, 1, 1])
  const unnamed = metric(metrics, metricNames.operationDuration).dataPoints.filter((p) => p.attributes[attributeNames.operationName] === 'POST /orders/purge' && p.attributes[attributeNames.dbOperationName] === undefined)
  assert.is(unnamed.length, 1, 'one series without db.operation.name')
  assert.is((unnamed[0]?.value as { count: number } | undefined)?.count, 3, 'the two statements, the data-modifying WITH and the EXPLAIN')
})

pg('use_time is the hold time of a checkout: a held client is one sample however many statements it ran', async ({ harness, orders: pool }) => {
  const before = histogramOf(await harness.collect(), metricNames.useTime, orders).count
  const client = await pool.connect()
  for (let i = 0; i < 3; i++) await client.query('SELECT 1')
  client.release()
  assert.is(histogramOf(await harness.collect(), metricNames.useTime, orders).count, before + 1)
})

pg.run()
