import { createServiceContainer, OperationAbortedError, OperationContext, PoolExhaustedError, PoolTimeoutError, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, registerMongo, type MongoPool } from '../src/index.js'
import { closeAll, faultTest, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_waiting'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Waiting = suite<Context>('bounded waiting and abort', { target: undefined as never, pools: [] })

Waiting.before(async (context) => {
  context.target = await startTarget([DB])
})

Waiting.after.each(async (context) => {
  await context.target.wire?.restart()
  await closeAll(context.target, context.pools)
})

Waiting.after(async (context) => {
  await context.target.close()
})

Waiting('one more waiter than maxWaitingRequests is rejected at once with PoolExhaustedError', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, maxWaitingRequests: 1 })
  context.pools.push(pool)
  const lease = await pool.acquire()
  const orders = pool.collection('orders')
  const queued = orders.findOne({})
  const started = Date.now()
  const error = await rejects(orders.findOne({}), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  assert.ok(Date.now() - started < 100, 'rejected without waiting')
  assert.match(error.message, `Could not acquire a connection from pool '${pool.name}'. The pool is exhausted: 1 request(s) are already waiting`)
  assert.is(pool.getPoolMetrics().waitingRequests, 1)
  lease.release()
  assert.is(await queued, null)
})

Waiting('a waiter gives up after acquireTimeoutMillis on the pool\'s clock with PoolTimeoutError and an onTimeout event', async (context) => {
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 100, events: recorder.listeners, clock })
  context.pools.push(pool)
  const lease = await pool.acquire()
  try {
    const refused = rejects(pool.collection('orders').findOne({}), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    await clock.advance(99)
    assert.is(pool.getPoolMetrics().waitingRequests, 1, 'still waiting 1 ms before its timeout')
    await clock.advance(1)
    const error = await refused
    assert.match(error.message, `Could not acquire a connection from pool '${pool.name}'. Timed out after 100ms.`)
    assert.is(error.cause, undefined, 'no connect error happened')
    const again = rejects(pool.acquire(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    await clock.advance(100)
    await again
  } finally {
    lease.release()
  }
  const timeouts = recorder.of('timeout')
  assert.equal(timeouts.map((t) => t.waitMillis), [100, 100])
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.timeouts, metrics.waitingRequests], [2, 0])
})

Waiting('waiters that time out together each report the others still waiting then, as their error says', async (context) => {
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 100, events: recorder.listeners, clock })
  context.pools.push(pool)
  const lease = await pool.acquire()
  try {
    const refused = Promise.all([1, 2, 3].map(() => rejects(pool.acquire(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')))
    await clock.advance(100)
    const errors = await refused
    assert.equal(errors.map((error) => error.waiting), [2, 1, 0])
    assert.match(errors[0]?.message ?? '', '2 other request(s) were waiting.')
  } finally {
    lease.release()
  }
  assert.equal(recorder.of('timeout').map((t) => t.waitingRequests), [2, 1, 0])
})

faultTest(Waiting)('PoolTimeoutError carries the last connect error as its cause', async (context) => {
  const wire = context.target.wire!
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 150, faults: true })
  context.pools.push(pool)
  await pool.warmup()
  const failedHeartbeat = new Promise((resolve) => pool.client.once('serverHeartbeatFailed', resolve))
  await wire.goAway()
  await failedHeartbeat
  const lease = await pool.acquire()
  try {
    const error = await rejects(pool.collection('orders').findOne({}), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    assert.instance(error.cause, Error)
    // The monitor's reconnect attempt, refused while the server is gone.
    assert.is((error.cause as Error).name, 'MongoNetworkError')
    assert.match((error.cause as Error).message, 'ECONNREFUSED')
  } finally {
    lease.release()
  }
})

Waiting('a waiter whose operation aborts leaves the queue with OperationAbortedError', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const lease = await pool.acquire()
  try {
    const client = new AbortController()
    const operation = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer(), signal: client.signal })
    const waiting = operation.run(() => pool.collection('orders').findOne({}))
    const leasing = pool.acquire({ signal: client.signal })
    await sleep(20)
    assert.is(pool.getPoolMetrics().waitingRequests, 2)
    client.abort()
    const error = await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
    assert.match(error.message, `Could not acquire a connection from pool '${pool.name}'. The operation was aborted.`)
    await rejects(leasing, OperationAbortedError, 'ERR_OPERATION_ABORTED')
    assert.is(pool.getPoolMetrics().waitingRequests, 0)
    await operation.dispose()
  } finally {
    lease.release()
  }
  // The slot the aborted waiters would have taken is free.
  assert.is(await pool.collection('orders').findOne({}), null)
})

faultTest(Waiting)("an operation whose own signal aborts while the driver opens its connection is not counted waiting after", async (context) => {
  const wire = context.target.wire!
  // No heartbeat within the test, so the delayed handshake is the new pool connection's.
  const pool = openPool(context.target, { dbName: DB, maxSize: 2, clientOptions: { heartbeatFrequencyMS: 60_000 } })
  context.pools.push(pool)
  await pool.client.connect()
  const orders = pool.collection('orders')
  // The one idle connection is busy, so the next operation waits in the driver for a new one.
  wire.fault('find', { kind: 'delay', delayMillis: 300 })
  const busy = orders.findOne({})
  await wire.waitFor(() => pool.activeCount === 1, 2000, 'the idle connection checked out')
  wire.fault('hello', { kind: 'delay', delayMillis: 300 })
  const controller = new AbortController()
  const aborted = orders.findOne({}, { signal: controller.signal })
  await wire.waitFor(() => pool.waitingCount === 1, 2000, 'the operation waiting for its connection')
  // The driver drops the checkout without an event (7.9), so its own count keeps it.
  controller.abort(new Error('client gone'))
  await aborted.then(
    () => assert.unreachable('the aborted operation should fail'),
    (error: unknown) => assert.match(String((error as Error)?.message), 'client gone'),
  )
  await busy
  // Once the handshake is over, nothing of it waits in the driver.
  await wire.waitFor(() => pool.getPoolMetrics().waitingRequests === 0, 2000, 'no waiting request left')
  await wire.waitFor(() => pool.totalCount === 2 && pool.idleCount === 2, 2000, 'both connections idle')
  assert.equal([pool.waitingCount, pool.activeCount], [0, 0])
})

Waiting('an operation already aborted gets no slot, even a free one, and sends nothing', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, maxSize: 2, events: recorder.listeners })
  context.pools.push(pool)
  const container = registerMongo(createServiceContainer(), pool)
  const client = new AbortController()
  client.abort(new Error('client disconnected'))
  // The request's client left before its handler reached the database.
  const inserting = runOperation('orders-api', 'POST /orders', (operation) => operation.mongodb.collection('orders').insertOne({ sku: 'a' }), { container, signal: client.signal })
  const error = await rejects(inserting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.match(error.message, `Could not acquire a connection from pool '${pool.name}'. The operation was aborted.`)
  await rejects(pool.acquire({ signal: client.signal }), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  const handle = createMongoHandle(pool)
  const outside = OperationContext.create('orders-api', 'POST /orders', { container: createServiceContainer(), signal: client.signal })
  await rejects(outside.run(() => handle.collection('orders').findOne({})), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await rejects(outside.run(() => handle.withTransaction(async () => 'never')), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await Promise.all([handle.dispose(), outside.dispose()])
  assert.equal(await context.target.documents(`${DB}.orders`), [], 'nothing reached the server')
  assert.is(recorder.of('acquire').length, 0, 'no slot was taken')
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
})

Waiting('a lease whose owner aborted sends nothing more, on its collections as in run()', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const client = new AbortController()
  const lease = await pool.acquire({ signal: client.signal })
  const orders = lease.collection('orders')
  await orders.insertOne({ sku: 'before' })
  client.abort(new Error('client disconnected'))
  const error = await rejects(orders.insertOne({ sku: 'after' }), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.message, `Could not run a command on pool '${pool.name}'. The operation was aborted.`)
  // In run(), through any handle: refused before the body runs, and inside a body that was running.
  let ran = false
  await rejects(lease.run(() => ((ran = true), pool.collection('orders').insertOne({ sku: 'in run' }))), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.not.ok(ran, 'the body did not run')
  lease.release()
  const second = new AbortController()
  const running = await pool.acquire({ signal: second.signal })
  await rejects(
    running.run(async () => {
      await pool.collection('orders').insertOne({ sku: 'in run, before' })
      second.abort(new Error('client disconnected'))
      await pool.collection('orders').insertOne({ sku: 'in run, after' })
    }),
    OperationAbortedError,
    'ERR_OPERATION_ABORTED',
  )
  running.release()
  assert.equal((await context.target.documents(`${DB}.orders`)).map((doc) => doc['sku']), ['before', 'in run, before'])
})

Waiting.run()
