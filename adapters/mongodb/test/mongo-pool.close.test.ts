import { PoolClosedError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, type MongoPool } from '../src/index.js'
import { appNameOf, closeAll, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_close'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Close = suite<Context>('graceful close', { target: undefined as never, pools: [] })

/**
 * True once `promise` settles, false if it has not within 30 s of real time: a hang guard, not a speed check
 * (the pool's own timers run on a manual clock; closing the driver's client is real I/O).
 */
async function settles(promise: Promise<unknown>): Promise<boolean> {
  let guard: NodeJS.Timeout | undefined
  const hung = new Promise<boolean>((resolve) => (guard = setTimeout(() => resolve(false), 30_000)))
  try {
    return await Promise.race([promise.then(() => true), hung])
  } finally {
    clearTimeout(guard)
  }
}

Close.before(async (context) => {
  context.target = await startTarget([DB])
})

Close.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Close.after(async (context) => {
  await context.target.close()
})

Close('close waits for admitted work, refuses new work, and leaves no connection open', async (context) => {
  const { target } = context
  const pool = openPool(target, { dbName: DB, maxSize: 1, minSize: 1 })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.warmup()
  const lease = await pool.acquire()
  const queued = pool.collection('orders').findOne({})

  let closed = false
  const closing = pool.close().then(() => {
    closed = true
  })
  assert.is(pool.state, 'closing')
  await rejects(queued, PoolClosedError, 'ERR_POOL_CLOSED')
  await rejects(pool.collection('orders').findOne({}), PoolClosedError, 'ERR_POOL_CLOSED')
  await rejects(pool.acquire(), PoolClosedError, 'ERR_POOL_CLOSED')
  // The lease still works until it is released.
  assert.is(await lease.collection('orders').findOne({}), null)
  await sleep(30)
  assert.not.ok(closed, 'close waits for the lease')

  lease.release()
  await closing
  assert.is(pool.state, 'closed')
  assert.is(pool.close(), pool.close(), 'idempotent')
  await target.waitForPoolConnections(app, 0)
  assert.is(pool.getPoolMetrics().totalConnections, 0)
})

Close('close gives up waiting after timeoutMillis and closes the client anyway', async (context) => {
  const { target } = context
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(target, { dbName: DB, events: recorder.listeners, clock })
  context.pools.push(pool)
  await pool.warmup({ connections: 2 })
  const lease = await pool.acquire()
  let closed = false
  const closing = pool.close({ timeoutMillis: 50 }).then(() => (closed = true))
  await clock.advance(49)
  assert.not.ok(closed, 'still waiting for the lease')
  await clock.advance(1)
  assert.ok(await settles(closing), 'closed once its 50 ms had passed on the clock')
  assert.is(pool.state, 'closed')
  await target.waitForPoolConnections(appNameOf(pool), 0)
  assert.equal(recorder.of('disconnect').map((d) => d.reason), ['closed', 'closed'])
  lease.release()
})

Close('a command still running when the close gives up has its connection cut as closed, not as an error', async (context) => {
  const { target } = context
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(target, { dbName: DB, events: recorder.listeners, clock })
  context.pools.push(pool)
  await pool.warmup({ connections: 1 })
  target.wire!.fault('find', { kind: 'delay', delayMillis: 60_000 })
  const running = pool.collection('orders').findOne({}).then(() => 'answered', () => 'failed')
  await target.wire!.waitFor(() => target.wire!.commands.some((c) => c.name === 'find'), 2000, 'the find reached the server')
  const closing = pool.close({ timeoutMillis: 50 })
  await clock.advance(50)
  assert.ok(await settles(closing), 'closed once its 50 ms had passed')
  assert.is(await running, 'failed')
  await target.waitForPoolConnections(appNameOf(pool), 0)
  // The driver's close cuts the connection the find held (before: reason 'error', as a dropped connection).
  assert.ok(recorder.of('disconnect').length > 0)
  assert.equal([...new Set(recorder.of('disconnect').map((d) => d.reason))], ['closed'])
  assert.equal(recorder.of('error'), [])
})

Close("a later close() with a shorter timeout brings the first one's deadline forward, as on PostgreSQL", async (context) => {
  const { target } = context
  const clock = new ManualClock()
  const pool = openPool(target, { dbName: DB, clock })
  context.pools.push(pool)
  const lease = await pool.acquire()
  // A library closed the pool first with a long timeout; the shutdown then asks for a short one.
  let closed = 0
  const first = pool.close({ timeoutMillis: 600_000 }).then(() => closed++)
  const second = pool.close({ timeoutMillis: 50 }).then(() => closed++)
  await clock.advance(50)
  assert.ok(await settles(Promise.all([first, second])), 'without the shortening, both wait out the ten minutes')
  assert.is(closed, 2)
  assert.is(pool.state, 'closed')
  await target.waitForPoolConnections(appNameOf(pool), 0)
  lease.release()
})

Close('closing the pool ends the sessions the driver pooled on the server', async (context) => {
  const { target } = context
  const pool = openPool(target, { dbName: DB })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  const session = handle.startSession()
  await handle.collection('orders').insertOne({ sku: 'a' }, { session })
  await handle.dispose()
  assert.ok(session.hasEnded)
  target.wire?.clearLog()
  await pool.close()
  await target.waitForPoolConnections(appNameOf(pool), 0)
  if (target.wire) {
    const wire = target.wire
    // endSessions is sent unacknowledged just before the sockets close.
    await wire.waitFor(() => wire.commands.some((c) => c.name === 'endSessions'), 2000, 'endSessions')
    const ended = wire.commands.find((c) => c.name === 'endSessions')?.body['endSessions'] as unknown[]
    assert.ok(ended.length >= 1)
  }
})

Close('a close whose drain gave up on a lease still ends the pooled sessions on a server that answers', async (context) => {
  const { target } = context
  const clock = new ManualClock()
  const pool = openPool(target, { dbName: DB, clock })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  await handle.collection('orders').insertOne({ sku: 'a' })
  await handle.dispose()
  const lease = await pool.acquire()
  target.wire?.clearLog()
  const closing = pool.close({ timeoutMillis: 50 })
  // The drain gives up at 50 ms; the client's close then has a second to end them.
  await clock.advance(50)
  await clock.advance(0)
  assert.ok(await settles(closing))
  await target.waitForPoolConnections(appNameOf(pool), 0)
  if (target.wire) {
    const wire = target.wire
    await wire.waitFor(() => wire.commands.some((c) => c.name === 'endSessions'), 2000, 'endSessions')
    assert.ok((wire.commands.find((c) => c.name === 'endSessions')?.body['endSessions'] as unknown[]).length >= 1)
  }
  lease.release()
})

Close('a connect still under way when the client closed has its topology closed once built: nothing is left open', async (context) => {
  const { target } = context
  const pool = openPool(target, { dbName: DB })
  context.pools.push(pool)
  const app = appNameOf(pool)
  // What the driver's connect looks like while it awaits an SRV lookup or a TLS file read (which this server
  // cannot make it do): `connectionLock` set, no topology built yet. The topology is built once released.
  const client = pool.client as unknown as { connectionLock: Promise<unknown> | undefined; _connect(): Promise<unknown> }
  let release: () => void = () => undefined
  const lookup = new Promise<void>((resolve) => (release = resolve))
  const connecting = (async () => {
    await lookup
    await client._connect()
  })()
  client.connectionLock = connecting
  connecting.finally(() => (client.connectionLock = undefined)).catch(() => undefined)

  const closing = pool.close()
  await sleep(50)
  release()
  assert.ok(await settles(closing), 'close() settles')
  await connecting
  // Before the fix: the monitor and the connect's connection stayed open, and the process alive.
  await target.waitForNoConnections(app)
  assert.is((pool.client as unknown as { topology?: unknown }).topology, undefined, 'the late topology closed')
})

Close.run()
