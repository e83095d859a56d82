import { createServiceContainer, OperationContext, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { registerMongo, type MongoPool } from '../src/index.js'
import { appNameOf, closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_query_events'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Queries = suite<Context>('MongoDB query events from command monitoring', { target: undefined as never, pools: [] })

Queries.before(async (context) => {
  context.target = await startTarget([DB])
})

Queries.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Queries.after(async (context) => {
  await context.target.close()
})

Queries('each command reports one event named by the command, in the operation that sent it', async (context) => {
  const recorder = recordEvents()
  const operations: (string | undefined)[] = []
  const pool = openPool(context.target, { dbName: DB, events: [recorder.listeners, { onQuery: () => void operations.push(OperationContext.tryCurrent()?.operation) }] })
  context.pools.push(pool)
  const container = createServiceContainer()
  registerMongo(container, pool)
  await runOperation('orders-api', 'POST /orders', async (operation) => {
    await operation.mongodb.collection('orders').insertOne({ sku: 'a', card: '4242-4242' })
    await operation.mongodb.collection('orders').find({ sku: 'a' }).toArray()
  }, { container })
  const queries = recorder.of('query')
  assert.equal(queries.map((q) => q.operation), ['insert', 'find'])
  assert.equal(operations, ['POST /orders', 'POST /orders'])
  for (const query of queries) {
    assert.is(query.pool, pool.name)
    assert.is(query.kind, 'mongodb')
    assert.ok(query.durationMillis >= 0 && query.durationMillis < 5000, `durationMillis ${query.durationMillis}`)
    assert.equal(Object.keys(query).sort(), ['durationMillis', 'kind', 'namespace', 'operation', 'pool'])
    assert.is(query.namespace, DB, 'the database the command ran in')
  }
  assert.not.match(JSON.stringify(queries), '4242', 'no document or filter in the events')
  await container.dispose()
})

Queries('a write the server refuses in its reply (a duplicate key: ok 1 with writeErrors) is a failed query, named by its code', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  const orders = pool.collection('duplicates')
  await orders.insertOne({ _id: 'one' as never })
  const refused = await orders.insertOne({ _id: 'one' as never }).then(() => undefined, (error: unknown) => error as { code?: unknown })
  assert.is(refused?.code, 11000, 'the caller is told')
  await orders.insertMany([{ _id: 'two' as never }, { _id: 'two' as never }]).catch(() => undefined)
  const inserts = recorder.of('query').filter((query) => query.operation === 'insert')
  assert.is(inserts.length, 3)
  assert.is(inserts[0]?.error, undefined)
  for (const failed of inserts.slice(1)) {
    assert.is((failed.error as { code?: unknown } | undefined)?.code, 11000)
    assert.is(failed.error?.name, 'MongoServerError')
  }
})

Queries('handshakes and the heartbeat monitor\'s hello never count', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  await pool.warmup({ connections: 2 })
  await context.target.waitForMonitor(appNameOf(pool))
  await pool.collection('orders').findOne({})
  const names = new Set(recorder.of('query').map((q) => q.operation))
  assert.ok(names.has('find'))
  for (const hello of ['hello', 'ismaster', 'isMaster']) assert.not.ok(names.has(hello), `no ${hello}`)
})

faultTest(Queries)('a failed command carries the server\'s error; durations are measured finer than the driver\'s whole milliseconds', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, faults: true, events: recorder.listeners })
  context.pools.push(pool)
  await pool.collection('orders').findOne({})
  context.target.wire?.fault('find', { kind: 'error', error: { code: 11600, codeName: 'InterruptedAtShutdown', errmsg: 'interrupted at shutdown' }, times: 1 })
  await pool.collection('orders').findOne({}).catch(() => undefined)
  context.target.wire?.fault('find', { kind: 'delay', delayMillis: 30, times: 1 })
  await pool.collection('orders').findOne({})
  const finds = recorder.of('query').filter((q) => q.operation === 'find')
  assert.is(finds.length, 3)
  assert.is((finds[1]?.error as { code?: number } | undefined)?.code, 11600)
  assert.ok((finds[2]?.durationMillis ?? 0) >= 25, `the delayed find took ${finds[2]?.durationMillis} ms`)
  assert.ok(finds.some((q) => !Number.isInteger(q.durationMillis)), 'sub-millisecond resolution')
})

faultTest(Queries)('a refill after a lost connection is reported outside any operation, though a request first connected the client', async (context) => {
  const { target } = context
  const pings: (string | undefined)[] = []
  const onQuery = (event: { operation?: string | undefined }) => void (event.operation === 'ping' && pings.push(OperationContext.tryCurrent()?.requestId))
  const pool = openPool(target, { dbName: DB, minSize: 2, maxSize: 4, faults: true, events: { onQuery } })
  context.pools.push(pool)
  const container = registerMongo(createServiceContainer(), pool)
  const app = appNameOf(pool)
  // No warm-up: the first request connects the client, and the driver's timers and sockets start in it.
  await runOperation('orders-api', 'GET /orders', (operation) => operation.mongodb.collection('orders').findOne({}), { container, requestId: 'req-1' })
  await target.waitForPoolConnections(app, 2)
  // Later, outside any request, a connection drops: the pool is cleared and refilled to minSize.
  const refillsBefore = pings.length
  target.wire?.fault('find', { kind: 'closeSocket', times: 1 })
  await pool.collection('orders').findOne({}).catch(() => undefined)
  await target.waitForPoolConnections(app, 2)
  const deadline = Date.now() + 3000
  while (pings.length === refillsBefore && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  assert.ok(pings.length > refillsBefore, 'the refill pinged')
  assert.equal(pings, pings.map(() => undefined), `the refill's pings ran in: ${pings.join(', ')}`)
  await container.dispose()
})

Queries('monitorCommands: false in clientOptions turns the events off', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners, clientOptions: { monitorCommands: false } })
  context.pools.push(pool)
  await pool.collection('orders').findOne({})
  assert.is(recorder.of('release').length, 1, 'the command ran')
  assert.is(recorder.of('query').length, 0)
})

Queries('getPoolCounters() holds the same live numbers and totals as getPoolMetrics()', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 3 })
  context.pools.push(pool)
  await pool.collection('orders').insertOne({ sku: 'b' })
  const counters = pool.getPoolCounters()
  const metrics = pool.getPoolMetrics()
  for (const key of ['totalConnections', 'activeConnections', 'idleConnections', 'waitingRequests', 'minSize', 'maxSize', 'errors', 'timeouts', 'leaks'] as const) {
    assert.is(counters[key], metrics[key], key)
  }
  assert.equal(counters.useTime, { count: metrics.useTime.count, sum: metrics.useTime.sum })
  assert.equal(counters.waitTime, { count: metrics.waitTime.count, sum: metrics.waitTime.sum })
  assert.is(counters.useTime.count, 1)
})

Queries.run()
