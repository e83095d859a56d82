// Faults injected through the wire server's hooks: skipped against a real server.
import { MongoNetworkError } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoPool } from '../src/index.js'
import { appNameOf, closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_faults'

// Listeners get a redacted copy of each error (same name, code and message, secrets removed), so they
// branch on `code`, as callers should.
const isPoolClear = (error: Error) => (error as { code?: string }).code === 'ERR_POOL_CLEARED'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Faults = suite<Context>('pool faults', { target: undefined as never, pools: [] })

Faults.before(async (context) => {
  context.target = await startTarget([DB])
})

Faults.after.each(async (context) => {
  const wire = context.target.wire
  wire?.clearFaults()
  wire?.refuseNewConnections(false)
  await wire?.restart()
  await closeAll(context.target, context.pools)
})

Faults.after(async (context) => {
  await context.target.close()
})

faultTest(Faults)('a socket closed mid-command clears the pool, is reported with its cause, and the pool recovers to minSize', async (context) => {
  const { target } = context
  const wire = target.wire!
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, minSize: 2, faults: true, events: recorder.listeners })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.warmup()
  await target.waitForMonitor(app)

  wire.fault('find', { kind: 'closeSocket' })
  await rejects(pool.collection('orders').findOne({}), MongoNetworkError)

  const [cleared] = recorder.of('error').filter((e) => isPoolClear(e.error))
  assert.ok(cleared, JSON.stringify(recorder.of('error').map((e) => e.error.message)))
  assert.is(cleared.source, 'pool')
  assert.is(cleared.error.name, 'PoolClearedError')
  assert.match(cleared.error.message, `Could not keep the connections of pool '${pool.name}'`)
  assert.is((cleared.error.cause as Error).name, 'MongoNetworkError')

  // The dropped connection closes with `error`; the other one, of the old generation, as `stale`.
  await wire.waitFor(() => recorder.of('disconnect').length >= 2, 2000, 'both connections closed')
  assert.equal(recorder.of('disconnect').map((d) => d.reason).sort(), ['error', 'stale'])
  const metrics = pool.getPoolMetrics()
  assert.ok(metrics.errors >= 1)
  assert.match(metrics.lastError ?? '', 'cleared the pool')

  // The next heartbeat makes the pool ready again, and minSize is refilled.
  await target.waitForPoolConnections(app, 2, 3000)
  await wire.waitFor(() => pool.getPoolMetrics().idleConnections === 2, 2000, 'two idle connections')
  assert.is(await pool.collection('orders').findOne({}), null)
})

faultTest(Faults)('a read retried after a pool clear and the refill open minSize connections between them, not one more', async (context) => {
  const { target } = context
  const wire = target.wire!
  const pool = openPool(target, { dbName: DB, minSize: 2, maxSize: 2, maxIdleTimeMillis: 0, faults: true, clientOptions: { retryReads: true } })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.warmup()
  await target.waitForMonitor(app)
  // The driver retries the read once the server is selectable again; the refill asked for meanwhile waited too.
  wire.fault('find', { kind: 'closeSocket', times: 1 })
  assert.is(await pool.collection('orders').findOne({}), null)
  await target.waitForPoolConnections(app, 2, 3000)
  // Both waited for the same moment: an extra connection came within milliseconds of it. Wait well past that.
  await new Promise((resolve) => setTimeout(resolve, 500))
  assert.is(await target.poolConnections(app), 2, 'a third connection (it would stay: idle connections never close here)')
})

faultTest(Faults)('refused new connections fail the operation that needed one, without clearing the pool', async (context) => {
  const { target } = context
  const wire = target.wire!
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, faults: true, events: recorder.listeners })
  context.pools.push(pool)
  await pool.warmup() // one idle connection
  wire.refuseNewConnections(true)
  // The first find holds the only connection, so the second must open one, and is refused.
  wire.fault('find', { kind: 'delay', delayMillis: 100 })
  const orders = pool.collection('orders')
  const [held, refused] = await Promise.allSettled([orders.findOne({}), orders.findOne({})])
  assert.is(held.status, 'fulfilled')
  assert.is(refused.status, 'rejected')
  assert.instance((refused as PromiseRejectedResult).reason, MongoNetworkError)

  assert.not.ok(recorder.of('error').some((e) => isPoolClear(e.error)), 'no pool clear')
  const connectionErrors = recorder.of('error').filter((e) => e.source === 'connection')
  assert.is(connectionErrors.length, 1)
  // The refused connection never opened: no `connect`, so no `disconnect` (the error above says what happened).
  assert.is(recorder.of('disconnect').length, 0)

  wire.refuseNewConnections(false)
  await Promise.all([orders.findOne({}), orders.findOne({})])
  assert.is(pool.getPoolMetrics().totalConnections, 2)
})

faultTest(Faults)('a server that goes away and comes back is a series of events, never a crash', async (context) => {
  const { target } = context
  const wire = target.wire!
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, minSize: 1, faults: true, events: recorder.listeners })
  context.pools.push(pool)
  await pool.warmup()
  await wire.goAway()
  await wire.waitFor(() => recorder.of('error').some((e) => isPoolClear(e.error)), 3000, 'the pool cleared by the monitor')
  await wire.restart()
  await target.waitForPoolConnections(appNameOf(pool), 1, 4000)
  assert.is(await pool.collection('orders').findOne({}), null)
  assert.ok(recorder.of('disconnect').some((d) => d.reason === 'error' || d.reason === 'stale'))
})

Faults.run()
