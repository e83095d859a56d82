// Calls made while the calling code already holds a slot of the pool (a cursor.forEach callback, a lease's
// run(), a transaction): they run in that slot, one at a time, and never wait for a second slot.
import { MongoServerError, type CommandStartedEvent } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, type MongoPool } from '../src/index.js'
import { InvalidOptionError, PoolClosedError } from '@lifeguard/core'
import { appNameOf, closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_nested'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Nested = suite<Context>('calls made while holding a slot', { target: undefined as never, pools: [] })

Nested.before(async (context) => {
  context.target = await startTarget([DB])
})

Nested.after.each(async (context) => {
  context.target.wire?.clearFaults()
  await closeAll(context.target, context.pools)
})

Nested.after(async (context) => {
  await context.target.close()
})

// The most commands of `name` running at once, from the driver's command monitoring.
function inFlight(pool: MongoPool, name: string): { readonly max: number } {
  let running = 0
  const seen = { max: 0 }
  const ids = new Set<number>()
  pool.client.on('commandStarted', (event: CommandStartedEvent) => {
    if (event.commandName !== name) return
    ids.add(event.requestId)
    seen.max = Math.max(seen.max, ++running)
  })
  const done = (event: { requestId: number }) => {
    if (ids.delete(event.requestId)) running--
  }
  pool.client.on('commandSucceeded', done)
  pool.client.on('commandFailed', done)
  return seen
}

Nested('the calls of cursor.forEach callbacks run one at a time in the slot of the forEach, which waits for them', async (context) => {
  const { target } = context
  const pool = openPool(target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  await pool.collection('items').insertMany(Array.from({ length: 10 }, (_, n) => ({ n })))
  const inserts = inFlight(pool, 'insert')
  // Slow inserts, so that calls made at once would overlap at the server.
  target.wire?.fault('insert', { kind: 'delay', delayMillis: 20, times: 10 })
  // The driver's forEach does not await its callback: all ten calls are made before the first one ends.
  const calls: Array<Promise<unknown>> = []
  let finished = 0
  await pool.collection('items').find({}).forEach((doc) => {
    calls.push(pool.collection('copies').insertOne({ n: doc['n'] }).finally(() => finished++))
  })
  const finishedAtResolve = finished
  await Promise.all(calls)
  assert.is(inserts.max, 1, `inserts running at once (maxSize 1): ${inserts.max}`)
  assert.is(finishedAtResolve, 10, 'forEach kept its slot until the calls of its callbacks were done')
  assert.is((await target.documents(`${DB}.copies`)).length, 10)
  await target.waitForMonitor(appNameOf(pool))
  assert.is(await target.poolConnections(appNameOf(pool)), 1, 'one connection at the server for a pool of size 1')
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
})

// A standalone mongod refuses transactions (IllegalOperation, 20); what matters here is that the refusal comes
// from the server at once, not a PoolTimeoutError after waiting for a second slot.
async function committedOrRefused(target: TestTarget, transaction: Promise<string>, expected: string): Promise<void> {
  if (target.transactions) assert.is(await transaction, expected)
  else assert.is((await rejects(transaction, MongoServerError)).code, 20)
}

faultTest(Nested)('a lease released while one of its calls still runs gives its slot back once that call is done, not beside it', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const finds = inFlight(pool, 'find')
  await pool.warmup()
  const lease = await pool.acquire()
  context.target.wire!.fault('find', { kind: 'delay', delayMillis: 200 })
  const slow = lease.collection('orders').findOne({})
  lease.release()
  // The next caller waits for the slot: it would otherwise run on a second connection, over maxSize 1.
  const next = pool.collection('orders').findOne({})
  await Promise.all([slow, next])
  assert.is(finds.max, 1, 'one find at a time, as maxSize says')
  assert.is(pool.getPoolMetrics().activeConnections, 0)
})

Nested('lease.run() takes a body that returns a value, and refuses one that is not a function, by name', async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  const lease = await pool.acquire()
  assert.is(await lease.run(() => 5), 5)
  const error = await rejects(lease.run(123 as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'body')
  lease.release()
})

Nested('a lease held past close() is refused with PoolClosedError, not the driver\'s "not connected"', async (context) => {
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, clock })
  context.pools.push(pool)
  const lease = await pool.acquire()
  const closing = pool.close({ timeoutMillis: 50 })
  await clock.advance(50)
  await closing
  await rejects(lease.collection('orders').findOne({}), PoolClosedError, 'ERR_POOL_CLOSED')
  lease.release()
})

Nested('withTransaction inside lease.run() runs in the lease, without waiting for a second slot', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 1000, events: recorder.listeners })
  context.pools.push(pool)
  const mongo = createMongoHandle(pool)
  const lease = await pool.acquire()
  try {
    const started = Date.now()
    const transaction = lease.run(async () => {
      await mongo.collection('ledger').insertOne({ plain: true })
      return mongo.withTransaction(async (session) => {
        await mongo.collection('ledger').insertOne({ tx: 1 }, { session })
        return 'committed'
      })
    })
    await committedOrRefused(context.target, transaction, 'committed')
    assert.ok(Date.now() - started < 900, `done in ${Date.now() - started}ms, not after acquireTimeoutMillis`)
    assert.is(recorder.of('acquire').length, 1, 'only the lease took a slot')
    assert.is(recorder.of('timeout').length, 0)
  } finally {
    lease.release()
    await mongo.dispose()
  }
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
})

Nested("a call in lease.run() after the lease was released waits for a slot of its own: the lease's may be another's", async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const lease = await pool.acquire()
  let other: Awaited<ReturnType<MongoPool['acquire']>> | undefined
  await lease.run(async () => {
    lease.release()
    other = await pool.acquire()
    // The only slot is the other lease's now: the call waits, and runs once that lease is given back.
    const waiting = pool.collection('after_release').countDocuments({})
    await new Promise((resolve) => setImmediate(resolve))
    assert.is(pool.getPoolMetrics().waitingRequests, 1, 'waiting, not run in the released slot')
    other.release()
    assert.is(await waiting, 0)
  })
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
})

Nested('withTransaction inside another transaction runs in its slot', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 1000, events: recorder.listeners })
  context.pools.push(pool)
  const orders = createMongoHandle(pool)
  const audit = createMongoHandle(pool) // another service, with a handle of its own
  const started = Date.now()
  const outer = orders.withTransaction(async (session) => {
    await orders.collection('orders').insertOne({ outer: 1 }, { session })
    return audit.withTransaction(async (inner) => {
      await audit.collection('audit').insertOne({ inner: 1 }, { session: inner })
      return 'inner committed'
    })
  })
  await committedOrRefused(context.target, outer, 'inner committed')
  assert.ok(Date.now() - started < 900, `done in ${Date.now() - started}ms, not after acquireTimeoutMillis`)
  assert.is(recorder.of('acquire').length, 1, 'only the outer transaction took a slot')
  assert.is(recorder.of('timeout').length, 0)
  await Promise.all([orders.dispose(), audit.dispose()])
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
})

Nested.run()
