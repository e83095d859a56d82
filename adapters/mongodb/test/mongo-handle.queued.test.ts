import { createServiceContainer, DisposedError, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, registerMongo, type MongoPool } from '../src/index.js'
import { closeAll, openPool } from './_helpers/pools.js'
import { rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_handle_queued'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Queued = suite<Context>("a handle's calls still waiting for a slot when it is disposed", { target: undefined as never, pools: [] })

Queued.before(async (context) => {
  context.target = await startTarget([DB])
})

Queued.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Queued.after(async (context) => {
  await context.target.close()
})

function refusalOf(pool: MongoPool): string {
  return `Could not run an operation with the MongoDB handle of pool '${pool.name}'. It was disposed (its operation ended) while the call waited for a connection.`
}

// The skus of the inserts the server received into `collection` (the wire server's log; its documents on a real one).
async function skusSent(target: TestTarget, collection: string): Promise<unknown[]> {
  if (target.wire === undefined) return (await target.documents(`${DB}.${collection}`)).map((doc) => doc['sku'])
  return target.wire.commands
    .filter((c) => c.name === 'insert' && c.body['insert'] === collection)
    .flatMap((c) => (c.body['documents'] as { sku: unknown }[]).map((doc) => doc.sku))
}

Queued('a call of a failed request still queued when its operation is disposed is refused with DisposedError, sends nothing, and the next waiter gets the slot', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const container = registerMongo(createServiceContainer(), pool)
  // Every slot taken.
  const lease = await pool.acquire()
  let refused: Promise<DisposedError> | undefined
  const failing = runOperation(
    'orders-api',
    'POST /orders',
    async (operation) => {
      // `Promise.all([orders.insertOne(a), audit.insertOne(b)])` whose first write failed at once.
      refused = rejects(operation.mongodb.collection('audit').insertOne({ sku: 'from the failed request' }), DisposedError, 'ERR_DISPOSED')
      assert.is(pool.getPoolMetrics().waitingRequests, 1, 'the audit write waits for the slot')
      throw new Error('orders insert failed')
    },
    { container },
  )
  // A request behind it, whose operation goes on.
  const next = runOperation('orders-api', 'POST /orders', (operation) => operation.mongodb.collection('audit').insertOne({ sku: 'next' }), { container })
  try {
    const failure = await rejects(failing, Error)
    assert.is(failure.message, 'orders insert failed')
    assert.is(pool.getPoolMetrics().waitingRequests, 1, 'the disposed operation left the queue at once; the next request still waits')
    const error = await (refused as Promise<DisposedError>)
    assert.is(error.message, refusalOf(pool))
  } finally {
    lease.release()
    // Settled before an assertion above ends the test and the pool closes under them.
    await Promise.allSettled([refused, next])
  }
  assert.ok((await next).acknowledged, 'the next request got the slot')
  assert.equal(await skusSent(context.target, 'audit'), ['next'], 'the refused write never reached the server')
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
  assert.equal([pool.activeCount, pool.waitingCount], [0, 0], 'the driver has every connection back')
  await container.dispose()
})

Queued('a call granted its slot just as its handle is disposed sends nothing and passes the slot on', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  const lease = await pool.acquire()
  const refused = rejects(handle.collection('granted').insertOne({ sku: 'granted' }), DisposedError, 'ERR_DISPOSED')
  const next = pool.collection('granted').insertOne({ sku: 'next' })
  // The slot is handed to the queued call, and its handle disposed before that call resumes.
  lease.release()
  const disposing = handle.dispose()
  const error = await refused
  assert.is(error.message, refusalOf(pool))
  assert.ok((await next).acknowledged, 'the next waiter got the slot')
  await disposing
  assert.equal(await skusSent(context.target, 'granted'), ['next'], 'the refused write never reached the server')
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
  assert.equal([pool.activeCount, pool.waitingCount], [0, 0], 'the driver has every connection back')
})

Queued('a handle of its own refuses, when disposed, its calls and transactions still waiting for a slot', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  const lease = await pool.acquire()
  let ran = false
  const reading = rejects(handle.collection('own').findOne({}), DisposedError, 'ERR_DISPOSED')
  const transacting = rejects(
    handle.withTransaction(async () => {
      ran = true
    }),
    DisposedError,
    'ERR_DISPOSED',
  )
  try {
    assert.is(pool.getPoolMetrics().waitingRequests, 2)
    await handle.dispose()
    assert.is(pool.getPoolMetrics().waitingRequests, 0, 'both left the queue as the handle was disposed')
    for (const error of await Promise.all([reading, transacting])) assert.is(error.message, refusalOf(pool))
  } finally {
    lease.release()
    await Promise.allSettled([reading, transacting])
  }
  assert.not.ok(ran, 'the transaction never started')
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
  assert.is(await pool.collection('own').findOne({}), null, 'the slot is free')
})

Queued.run()
