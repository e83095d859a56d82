import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoLease, MongoPool } from '../src/index.js'
import { closeAll, faultTest, openPool, recordEvents, sleep } from './_helpers/pools.js'
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

async function until(predicate: () => boolean, timeoutMillis: number, description: string): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMillis}ms waiting for ${description}`)
    await sleep(10)
  }
}

Leaks('a lease held past leakDetectionMillis is reported with its owner and origin, and resolved on release', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, leakDetectionMillis: 50, events: recorder.listeners })
  context.pools.push(pool)
  const operation = OperationContext.create('report-worker', 'nightly', { container: createServiceContainer(), requestId: 'job-1' })
  const lease = await operation.run(() => takeLeaseForReport(pool))
  await until(() => recorder.of('leak').length === 1, 1000, 'a suspected leak')

  const [suspected] = recorder.of('leak')
  assert.is(suspected?.state, 'suspected')
  assert.ok((suspected?.heldMillis ?? 0) >= 45, `held ${suspected?.heldMillis}ms`)
  assert.equal(suspected?.owner, { handler: 'report-worker', operation: 'nightly', requestId: 'job-1' })
  assert.match(suspected?.stack ?? '', 'takeLeaseForReport')
  assert.is(pool.getPoolMetrics().leaks, 1)

  lease.release()
  const resolved = recorder.of('leak')[1]
  assert.is(resolved?.state, 'resolved')
  assert.ok((resolved?.heldMillis ?? 0) >= (suspected?.heldMillis ?? 0))
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
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  const lease = await pool.acquire()
  await sleep(60)
  lease.release()
  assert.equal(recorder.of('leak'), [])
  assert.is(pool.getPoolMetrics().leaks, 0)
})

Leaks.run()
