// Cursors whose next batch cannot get a slot: the loop fails, and the server cursor and its session are closed
// then, not when the pool closes. Needs server cursors that span batches and the server's view of them, so it
// runs on the wire server only.
import { createServiceContainer, OperationAbortedError, OperationContext, PoolExhaustedError, PoolTimeoutError, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { registerMongo, type MongoLease, type MongoPool } from '../src/index.js'
import { rejects, startWireServer, type WireServer } from '@lifeguard/test-kit'
import { batchedCursors, type CursorLog } from './_helpers/cursors.js'
import { faultTest, openPool } from './_helpers/pools.js'
import type { TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_cursors'

interface Context {
  wire: WireServer
  cursors: CursorLog
  pools: MongoPool[]
}

const Cursors = suite<Context>('cursors whose next batch is refused a slot', { wire: undefined as never, cursors: undefined as never, pools: [] })

Cursors.before.each(async (context) => {
  const { commands, cursors } = batchedCursors(10)
  context.cursors = cursors
  context.wire = await startWireServer({ commands })
})

Cursors.after.each(async (context) => {
  const { wire } = context
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
  await wire.waitFor(() => wire.connectionCount === 0, 3000, 'no connection left')
  await wire.close()
})

function poolOf(context: Context, options: Parameters<typeof openPool>[1]): MongoPool {
  const pool = openPool({ uri: context.wire.uri } as TestTarget, { dbName: DB, maxSize: 1, ...options })
  context.pools.push(pool)
  return pool
}

// Loops over a cursor of two-document batches; after the first batch, `takeSlot` has the only slot taken.
async function loopUntilRefused(pool: MongoPool, takeSlot: () => Promise<MongoLease>): Promise<{ seen: number; lease: MongoLease | undefined; loop: Promise<void> }> {
  const state: { seen: number; lease: MongoLease | undefined } = { seen: 0, lease: undefined }
  const loop = (async () => {
    for await (const doc of pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })) {
      state.seen++
      if (doc['_id'] === 1) state.lease = await takeSlot()
    }
  })()
  await loop.catch(() => undefined)
  return { ...state, loop }
}

async function assertClosedAtOnce(context: Context, pool: MongoPool, seen: number, lease: MongoLease | undefined): Promise<void> {
  assert.is(seen, 2, 'the first batch was read')
  // The refusal starts the close without waiting for it (see the outage tests): killCursors follows at once.
  // Before the fix: still open, and killed only by pool.close().
  await context.wire.waitFor(() => context.cursors.open.size === 0, 1000, 'no server cursor left open')
  assert.is(context.cursors.killed.length, 1, 'killCursors reached the server')
  const ended = context.wire.commands.filter((c) => c.name === 'killCursors')
  assert.is(ended.length, 1)
  lease?.release()
  const metrics = pool.getPoolMetrics()
  assert.equal([metrics.activeConnections, metrics.waitingRequests], [0, 0])
}

faultTest(Cursors)('a getMore that times out waiting for a slot closes the cursor', async (context) => {
  const pool = poolOf(context, { acquireTimeoutMillis: 100 })
  const { seen, lease, loop } = await loopUntilRefused(pool, () => pool.acquire())
  await rejects(loop, PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await assertClosedAtOnce(context, pool, seen, lease)
})

faultTest(Cursors)('next() and toArray() refused a slot for their getMore close the cursor too, not only a for await', async (context) => {
  for (const read of ['next', 'toArray'] as const) {
    const pool = poolOf(context, { maxWaitingRequests: 0 })
    const cursor = pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
    await cursor.next()
    await cursor.next() // the first batch, read
    const lease = await pool.acquire() // the only slot
    const read_ = read === 'next' ? cursor.next() : cursor.toArray()
    await rejects(read_, PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
    await context.wire.waitFor(() => context.cursors.open.size === 0, 1000, `${read}: no server cursor left open`)
    lease.release()
    // Its unread documents are lost: a retry hears so, rather than taking the closed cursor for read in full.
    await rejects(cursor.hasNext(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
    await rejects(cursor.toArray(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
    await pool.close()
  }
})

faultTest(Cursors)('a first step refused a slot leaves the cursor as it was: retried, it reads every document', async (context) => {
  const pool = poolOf(context, { maxWaitingRequests: 0 })
  const cursor = pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  const lease = await pool.acquire() // the only slot
  await rejects(cursor.toArray(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  lease.release()
  // Nothing on the server to leak yet: closed now, the driver would answer with no documents.
  assert.is((await cursor.toArray()).length, 10)
})

faultTest(Cursors)('a refused for-await step: the first leaves the cursor as it was; a later one closes it, and every later step hears the refusal, not an empty cursor', async (context) => {
  const pool = poolOf(context, { maxWaitingRequests: 0 })
  const cursor = pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  const lease = await pool.acquire() // the only slot
  const firstLoop = (async () => {
    for await (const _doc of cursor) void _doc
  })()
  await rejects(firstLoop, PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  lease.release()
  // Nothing on the server yet: iterated again, it reads every document (before: none, the cursor closed).
  let seen = 0
  let held: MongoLease | undefined
  const secondLoop = (async () => {
    for await (const doc of cursor) {
      seen++
      if (doc['_id'] === 1) held = await pool.acquire() // the getMore after this batch is refused
    }
  })()
  await rejects(secondLoop, PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  assert.is(seen, 2, 'the first batch was read')
  held?.release()
  await context.wire.waitFor(() => context.cursors.open.size === 0, 1000, 'no server cursor left open')
  // Its unread documents are gone: a retry hears so (before: an empty, finished cursor).
  const thirdLoop = (async () => {
    for await (const _doc of cursor) void _doc
  })()
  await rejects(thirdLoop, PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  await rejects(cursor.next(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  await rejects(cursor.toArray(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  // Rewound, it runs its query again: the refusal is over.
  cursor.rewind()
  assert.is((await cursor.toArray()).length, 10)
  await pool.close()
})

faultTest(Cursors)('a getMore refused because the queue is full closes the cursor', async (context) => {
  const pool = poolOf(context, { maxWaitingRequests: 0 })
  const { seen, lease, loop } = await loopUntilRefused(pool, () => pool.acquire())
  await rejects(loop, PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  await assertClosedAtOnce(context, pool, seen, lease)
})

faultTest(Cursors)('a getMore of an aborted operation closes the cursor', async (context) => {
  const pool = poolOf(context, {})
  const client = new AbortController()
  const operation = OperationContext.create('reports', 'GET /export', { container: createServiceContainer(), signal: client.signal })
  const { seen, lease, loop } = await operation.run(() =>
    loopUntilRefused(pool, async () => {
      const taken = await pool.acquire()
      client.abort() // the client left while the loop was busy
      return taken
    }),
  )
  await rejects(loop, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await assertClosedAtOnce(context, pool, seen, lease)
  await operation.dispose()
})

faultTest(Cursors)("a cursor a handler read in part and left is closed with the operation: server cursor and session", async (context) => {
  const pool = poolOf(context, { maxSize: 2 })
  const container = registerMongo(createServiceContainer(), pool)
  const first = await runOperation('reports', 'GET /first-page', async (operation) => {
    const cursor = operation.mongodb.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
    const doc = await cursor.next()
    // Read in full: closed by the driver, nothing for dispose to do.
    await operation.mongodb.collection('big').find({}, { batchSize: 20 }).toArray()
    assert.is(context.cursors.open.size, 1, 'the first cursor is open on the server while the handler runs')
    return doc?._id
  }, { container })
  assert.is(first, 0)
  assert.is(context.cursors.open.size, 0, 'no server cursor left open')
  assert.is(context.cursors.killed.length, 1, 'killCursors reached the server')
  await container.dispose()
})

Cursors('a lease closes the cursors it handed out that are still open when it is released', async (context) => {
  const pool = poolOf(context, {})
  const lease = await pool.acquire()
  const cursor = lease.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  await cursor.next()
  assert.is(context.cursors.open.size, 1, 'the server holds the rest')
  lease.release()
  // Before: open until the server timed it out (10 minutes), or the pool closed.
  await context.wire.waitFor(() => context.cursors.open.size === 0, 1000, 'the server cursor killed at the release')
  assert.is(context.cursors.killed.length, 1)
  // The server sees killCursors before the driver has checked the connection in after its reply.
  await context.wire.waitFor(() => pool.getPoolMetrics().activeConnections === 0, 1000, 'the connection checked in')
})

Cursors.run()
