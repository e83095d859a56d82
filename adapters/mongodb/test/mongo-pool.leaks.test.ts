import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoLease, MongoPool } from '../src/index.js'
import { ManualClock } from '@lifeguard/test-kit'
import { closeAll, faultTest, openPool, recordEvents } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_leaks'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Leaks = suite<Context>('leak detection', { target: undefined as never, pools: [] })

Leaks.before(async (context) => {
  context.target = await startTarget([DB])
})

Leaks.after.each(async (context) => {
  context.target.wire?.clearFaults()
  await closeAll(context.target, context.pools)
})

Leaks.after(async (context) => {
  await context.target.close()
})

// A named frame, so the leak's stack can be checked to point here.
function takeLeaseForReport(pool: MongoPool): Promise<MongoLease> {
  return pool.acquire()
}

Leaks('a lease held past leakDetectionMillis is reported with its owner and origin, and resolved on release', async (context) => {
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, leakDetectionMillis: 50, events: recorder.listeners, clock })
  context.pools.push(pool)
  const operation = OperationContext.create('report-worker', 'nightly', { container: createServiceContainer(), requestId: 'job-1' })
  const lease = await operation.run(() => takeLeaseForReport(pool))
  await clock.advance(49)
  assert.equal(recorder.of('leak'), [], 'not yet')
  await clock.advance(1)

  const [suspected] = recorder.of('leak')
  assert.is(suspected?.state, 'suspected')
  assert.is(suspected?.heldMillis, 50)
  assert.equal(suspected?.owner, { handler: 'report-worker', operation: 'nightly', requestId: 'job-1' })
  assert.match(suspected?.stack ?? '', 'takeLeaseForReport')
  assert.is(pool.getPoolMetrics().leaks, 1)

  await clock.advance(25)
  lease.release()
  const resolved = recorder.of('leak')[1]
  assert.is(resolved?.state, 'resolved')
  assert.is(resolved?.heldMillis, 75)
  assert.equal(resolved?.owner, suspected?.owner)
  await operation.dispose()
})

faultTest(Leaks)('an operation that runs past leakDetectionMillis is reported; quick ones are not', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, leakDetectionMillis: 250, events: recorder.listeners })
  context.pools.push(pool)
  await pool.warmup()
  const orders = pool.collection('orders')
  await orders.findOne({})
  await orders.insertOne({ sku: 'quick' })
  assert.equal(recorder.of('leak'), [])

  context.target.wire!.fault('find', { kind: 'delay', delayMillis: 600 })
  await orders.findOne({})
  assert.equal(recorder.of('leak').map((l) => l.state), ['suspected', 'resolved'])
  assert.is(pool.getPoolMetrics().leaks, 1)
})

Leaks('leak detection is off unless leakDetectionMillis is set', async (context) => {
  const recorder = recordEvents()
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners, clock })
  context.pools.push(pool)
  const lease = await pool.acquire()
  await clock.advance(3_600_000)
  lease.release()
  assert.equal(recorder.of('leak'), [])
  assert.is(pool.getPoolMetrics().leaks, 0)
})

Leaks.run()
