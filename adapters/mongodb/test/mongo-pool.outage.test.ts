// Clean-up while the server is unreachable. The driver's killCursors (closing a cursor) and abortTransaction
// (ending a session in a transaction) wait out server selection while the server is Unknown: 30 s here, the
// driver's default. Neither may hold back a refused cursor step, a handle's disposal, or the pool's close past
// its timeoutMillis. The pool's timers run on a manual clock, the driver's in real time; each test asserts that
// what it waits for comes well within those 30 s. Wire server only: it goes away on cue.
import { createServiceContainer, OperationAbortedError, OperationContext, PoolTimeoutError } from '@lifeguard/core'
import { systemClock } from '@lifeguard/core/adapter'
import type { FindCursor, ServerDescriptionChangedEvent } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, type MongoLease, type MongoPool } from '../src/index.js'
import { ManualClock, rejects, startWireServer, type WireServer } from '@lifeguard/test-kit'
import { settlesWithin } from '../src/internal/deadline.js'
import { batchedCursors, type CursorLog } from './_helpers/cursors.js'
import { faultTest, openPool, sleep } from './_helpers/pools.js'
import type { TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_outage'
// The driver's default serverSelectionTimeoutMS, what every wait on an unreachable server lasts.
const SERVER_SELECTION_MILLIS = 30_000
// Real time within which each wait must end: half of SERVER_SELECTION_MILLIS, so that a slow machine does not
// fail a test, while a wait for server selection still does.
const PROMPT_MILLIS = SERVER_SELECTION_MILLIS / 2

interface Context {
  wire: WireServer
  cursors: CursorLog
  pools: { pool: MongoPool; clock: ManualClock }[]
}

const Outage = suite<Context>('clean-up while the server is unreachable', { wire: undefined as never, cursors: undefined as never, pools: [] })

Outage.before.each(async (context) => {
  const { commands, cursors } = batchedCursors(10)
  context.cursors = cursors
  context.wire = await startWireServer({ commands })
})

Outage.after.each(async (context) => {
  const { wire } = context
  // At once, whatever a failed test left behind (a slot taken, a close still waiting for the server): the
  // pools' clocks move only when told to.
  await Promise.all(
    context.pools.splice(0).map(async ({ pool, clock }) => {
      const closing = pool.close({ timeoutMillis: 0 })
      await clock.advance(0)
      await closing
    }),
  )
  // Back at its baseline of no connection, and it stays there once the server is back: a closed client's
  // monitor would reconnect within a heartbeat (500ms). The driver's heartbeat runs in real time (no clock
  // of ours reaches it), so this one wait is real.
  await wire.restart()
  await sleep(700)
  assert.is(wire.connectionCount, 0, 'no connection from a closed pool')
  await wire.close()
})

// A pool whose own timers run on `clock`; the driver's server selection waits SERVER_SELECTION_MILLIS.
function poolOf(context: Context, clock: ManualClock, options: Parameters<typeof openPool>[1] = {}): MongoPool {
  const pool = openPool({ uri: context.wire.uri } as TestTarget, {
    dbName: DB,
    faults: true,
    ...options,
    clock,
    clientOptions: { serverSelectionTimeoutMS: SERVER_SELECTION_MILLIS },
  })
  context.pools.push({ pool, clock })
  return pool
}

// The server goes away, and the driver knows it: its monitor marked the server Unknown, so every server
// selection (a killCursors too) waits for it to come back.
async function serverGone(context: Context, pool: MongoPool): Promise<void> {
  const client = pool.client
  const unknown = new Promise<void>((resolve) => {
    const changed = (event: ServerDescriptionChangedEvent): void => {
      if (event.newDescription.type !== 'Unknown') return
      client.off('serverDescriptionChanged', changed)
      resolve()
    }
    client.on('serverDescriptionChanged', changed)
  })
  await context.wire.goAway()
  await unknown
}

// One turn of the event loop: what the I/O and promises already under way settle first.
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

// True when `promise` settles within `millis` of real time.
function within(promise: Promise<unknown>, millis: number): Promise<boolean> {
  return settlesWithin(promise, millis, systemClock)
}

// What a promise settled with, caught at once (so its rejection is never unhandled while the clock moves).
function outcomeOf(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => 'resolved',
    (error: unknown) => error,
  )
}

faultTest(Outage)("a loop's getMore that times out waiting for a slot gets its PoolTimeoutError without waiting for the cursor's close", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock, { maxSize: 1, acquireTimeoutMillis: 100 })
  let lease: MongoLease | undefined
  const loop = outcomeOf(
    (async () => {
      for await (const doc of pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })) {
        if (doc['_id'] !== 1) continue
        await serverGone(context, pool)
        lease = await pool.acquire() // the only slot: the next batch waits for it
      }
    })(),
  )
  try {
    // The admission wait's timer, once the body holds the slot (the driver's own waits count in waitingCount too).
    await context.wire.waitFor(() => lease !== undefined && clock.pendingTimers === 1, 3000, 'the getMore waiting for a slot')
    await clock.advance(100)
    // Before the fix: the loop got it only once the killCursors gave up, 30 s later.
    assert.ok(await within(loop, PROMPT_MILLIS), 'the PoolTimeoutError came at acquireTimeoutMillis')
    const error = await loop
    assert.instance(error, PoolTimeoutError)
    assert.is((error as PoolTimeoutError).code, 'ERR_POOL_TIMEOUT')
  } finally {
    lease?.release()
  }
})

faultTest(Outage)("next() of an operation that aborts gets its OperationAbortedError at once, and so does the cursor's next step", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock, { maxSize: 1 })
  const cursor = pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  await cursor.next()
  await cursor.next() // the first batch, read
  await serverGone(context, pool)
  const lease = await pool.acquire() // the only slot
  try {
    await abortedStep(context, clock, cursor)
  } finally {
    lease.release()
  }
})

async function abortedStep(context: Context, clock: ManualClock, cursor: FindCursor<{ _id: number }>): Promise<void> {
  const client = new AbortController()
  const operation = OperationContext.create('reports', 'GET /export', { container: createServiceContainer(), signal: client.signal })
  const step = outcomeOf(operation.run(() => cursor.next()))
  await context.wire.waitFor(() => clock.pendingTimers === 1, 3000, 'the getMore waiting for a slot')
  client.abort() // the client left
  assert.ok(await within(step, PROMPT_MILLIS), 'the OperationAbortedError came when the client left')
  const error = await step
  assert.instance(error, OperationAbortedError)
  assert.is((error as OperationAbortedError).code, 'ERR_OPERATION_ABORTED')
  // The cursor is marked closed by the refusal before the close has reached the server.
  await rejects(cursor.hasNext(), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await operation.dispose()
}

faultTest(Outage)("a handle's disposal waits a second at most for a cursor it left open", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock)
  const handle = createMongoHandle(pool)
  const cursor = handle.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  await cursor.next() // the server holds the rest
  await serverGone(context, pool)
  let disposed = false
  const disposing = handle.dispose().then(() => (disposed = true))
  await clock.advance(999)
  await turn()
  assert.not.ok(disposed, "waits for the cursor's killCursors a while")
  await clock.advance(1)
  // Before the fix: until the killCursors gave up, 30 s later.
  assert.ok(await within(disposing, PROMPT_MILLIS), 'disposed once its second had passed on the clock')
  assert.ok(handle.disposed)
  assert.is(clock.foregroundTimers, 0, 'no timer left behind')
})

faultTest(Outage)("a handle's disposal waits a second at most to abort a transaction it left open", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock)
  const handle = createMongoHandle(pool)
  const session = handle.startSession()
  session.startTransaction()
  await handle.collection('drafts').insertOne({ draft: true }, { session })
  await serverGone(context, pool)
  const disposing = handle.dispose()
  await clock.advance(1000)
  // Before the fix: until the abortTransaction gave up, 30 s later.
  assert.ok(await within(disposing, PROMPT_MILLIS), 'disposed once its second had passed on the clock')
  assert.is(clock.foregroundTimers, 0, 'no timer left behind')
})

faultTest(Outage)("close({ timeoutMillis }) ends by its deadline although the client's close waits for a cursor's killCursors", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock)
  const cursor = pool.collection<{ _id: number }>('big').find({}, { batchSize: 2 })
  await cursor.next() // left open: the client's close closes it
  await serverGone(context, pool)
  let closed = false
  const closing = pool.close({ timeoutMillis: 5000 }).then(() => (closed = true))
  await clock.advance(4999)
  await turn()
  assert.not.ok(closed, "the client's close is under way until the deadline")
  assert.is(pool.state, 'closing')
  await clock.advance(1)
  // Before the fix: until the killCursors gave up, 30 s later.
  assert.ok(await within(closing, PROMPT_MILLIS), 'closed once its 5 s had passed on the clock')
  assert.is(pool.state, 'closed')
  assert.is(clock.pendingTimers, 0, 'no timer left behind')
})

faultTest(Outage)("a later close() with a shorter timeout brings the deadline of the client's close forward too", async (context) => {
  const clock = new ManualClock()
  const pool = poolOf(context, clock)
  const handle = createMongoHandle(pool)
  const session = handle.startSession()
  session.startTransaction()
  await handle.collection('drafts').insertOne({ draft: true }, { session })
  await serverGone(context, pool)
  // A library closed the pool with a long timeout; the shutdown then asks for a short one.
  const first = pool.close({ timeoutMillis: 600_000 })
  const second = pool.close({ timeoutMillis: 50 })
  await clock.advance(50)
  assert.ok(await within(Promise.all([first, second]), PROMPT_MILLIS), 'both closed once 50ms had passed on the clock')
  assert.is(pool.state, 'closed')
  assert.is(clock.pendingTimers, 0, 'no timer left behind')
  assert.ok(session.hasEnded)
})

Outage.run()
