import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoPool } from '../src/index.js'
import { appNameOf, closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_metrics'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Metrics = suite<Context>('pool metrics from CMAP events', { target: undefined as never, pools: [] })

Metrics.before(async (context) => {
  context.target = await startTarget([DB])
})

Metrics.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Metrics.after(async (context) => {
  await context.target.close()
})

Metrics('connection counts match the server, the monitor is left out, and close reports every disconnect', async (context) => {
  const { target } = context
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, maxSize: 5, events: recorder.listeners })
  context.pools.push(pool)
  const app = appNameOf(pool)

  const [created] = recorder.of('poolCreated')
  assert.equal([created?.pool, created?.kind, created?.minSize, created?.maxSize], [pool.name, 'mongodb', 0, 5])
  assert.is(created?.target, pool.target)

  await pool.warmup({ connections: 3 })
  await target.waitForMonitor(app)
  assert.is(await target.poolConnections(app), 3)
  let metrics = pool.getPoolMetrics()
  assert.equal([metrics.totalConnections, metrics.idleConnections, metrics.activeConnections, metrics.waitingRequests], [3, 3, 0, 0])

  const connects = recorder.of('connect')
  assert.is(connects.length, 3)
  for (const connect of connects) {
    assert.type(connect.connectionId, 'number')
    assert.ok(connect.createMillis >= 0 && connect.createMillis < 5000, `createMillis ${connect.createMillis}`)
  }
  assert.is(metrics.createTime.count, 3)
  assert.ok(metrics.createTime.max >= metrics.createTime.p50)

  await pool.close()
  await target.waitForPoolConnections(app, 0)
  metrics = pool.getPoolMetrics()
  assert.equal([metrics.totalConnections, metrics.idleConnections, metrics.activeConnections], [0, 0, 0])
  const closed = recorder.of('disconnect')
  assert.is(closed.length, 3)
  assert.ok(closed.every((d) => d.reason === 'closed'), JSON.stringify(closed))
})

Metrics('each admitted operation is an acquire and a release with wait and use times', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  const orders = pool.collection('orders')
  await orders.insertOne({ sku: 'a' })
  assert.equal((await orders.findOne({ sku: 'a' }))?.['sku'], 'a')

  const acquires = recorder.of('acquire')
  const releases = recorder.of('release')
  assert.is(acquires.length, 2)
  assert.is(releases.length, 2)
  assert.ok(acquires.every((a) => a.waitMillis === 0), 'an idle pool admits at once')
  assert.ok(releases.every((r) => r.useMillis > 0))

  const metrics = pool.getPoolMetrics()
  assert.is(metrics.waitTime.count, 2)
  assert.is(metrics.useTime.count, 2)
  assert.ok(metrics.avgResponseTime > 0)
  assert.instance(metrics.lastUsed, Date)
  assert.equal([metrics.errors, metrics.timeouts, metrics.leaks], [0, 0, 0])
  assert.ok(metrics.totalConnections >= 1)
})

Metrics('an operation run inside an operation context names its owner', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  const operation = OperationContext.create('orders-api', 'GET /orders/:id', { container: createServiceContainer(), requestId: 'req-7' })
  await operation.run(() => pool.collection('orders').findOne({}))
  await operation.dispose()
  const owner = { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-7' }
  assert.equal(recorder.of('acquire')[0]?.owner, owner)
  assert.equal(recorder.of('release')[0]?.owner, owner)
})

// Needs the wire server's delay hook to hold a connection for a known time.
faultTest(Metrics)('a command in flight shows as an active connection', async (context) => {
  const wire = context.target.wire!
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  await pool.warmup({ connections: 2 })
  wire.fault('find', { kind: 'delay', delayMillis: 300 })
  let settled = false
  const slow = pool.collection('orders').findOne({}).finally(() => {
    settled = true
  })
  let seen = 0
  while (!settled && seen === 0) {
    seen = pool.getPoolMetrics().activeConnections
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  await slow
  assert.is(seen, 1)
  const after = pool.getPoolMetrics()
  assert.equal([after.activeConnections, after.idleConnections, after.totalConnections], [0, 2, 2])
})

Metrics.run()
