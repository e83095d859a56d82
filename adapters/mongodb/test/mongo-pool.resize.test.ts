import { InvalidOptionError, PoolClosedError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoPool } from '../src/index.js'
import { appNameOf, closeAll, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_resize'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Resize = suite<Context>('pool resize while running', { target: undefined as never, pools: [] })

Resize.before(async (context) => {
  context.target = await startTarget([DB])
})

Resize.after.each(async (context) => {
  context.target.wire?.clearFaults()
  await closeAll(context.target, context.pools)
})

Resize.after(async (context) => {
  await context.target.close()
})

/**
 * Workers that run a ~20ms query back to back until stopped, so that the pool is always full. Counts
 * successes and keeps every failure, and records the most connections the pool had in use at once.
 */
function startLoad(target: TestTarget, pool: MongoPool, workers: number) {
  const slow = pool.collection('items')
  // The wire server holds each find for 20ms; a real server sleeps in $where.
  target.wire?.fault('find', { kind: 'delay', delayMillis: 20, times: Number.POSITIVE_INFINITY })
  const filter = target.real ? { $where: 'sleep(20) || true' } : {}
  const state = { running: true, ok: 0, failures: [] as unknown[], maxActive: 0 }
  const loops = Array.from({ length: workers }, async () => {
    while (state.running) {
      try {
        await slow.findOne(filter)
        state.ok++
      } catch (error) {
        state.failures.push(error)
      }
      state.maxActive = Math.max(state.maxActive, pool.getPoolMetrics().activeConnections)
    }
  })
  return {
    state,
    /** Resets the high-water mark of connections in use. */
    resetMaxActive: () => {
      state.maxActive = 0
    },
    stop: async () => {
      state.running = false
      await Promise.all(loops)
    },
  }
}

Resize('open connections follow maxSize up and down on the server, with no failed operation', async (context) => {
  const { target } = context
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, maxSize: 2, maxIdleTimeMillis: 300, events: recorder.listeners })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.collection('items').insertOne({ n: 1 })
  await target.waitForMonitor(app)

  const load = startLoad(target, pool, 8)
  try {
    await target.waitForPoolConnections(app, 2)
    await sleep(100)
    assert.ok(load.state.maxActive <= 2, `in use ${load.state.maxActive} with maxSize 2`)
    assert.is(await target.poolConnections(app), 2)

    pool.resize({ maxSize: 6 }, { reason: 'test grows' })
    await target.waitForPoolConnections(app, 6)
    assert.is(pool.getPoolMetrics().maxSize, 6)

    pool.resize({ maxSize: 3 }, { reason: 'test shrinks' })
    // Admission drops to 3 at once; the three connections left idle close after maxIdleTimeMillis.
    await sleep(50)
    load.resetMaxActive()
    await target.waitForPoolConnections(app, 3, 3000)
    assert.ok(load.state.maxActive <= 3, `in use ${load.state.maxActive} after shrinking to 3`)
    await sleep(400)
    assert.is(await target.poolConnections(app), 3, 'stays at the new size under load')
    assert.is(pool.getPoolMetrics().totalConnections, 3)
  } finally {
    await load.stop()
  }
  assert.equal(load.state.failures, [])
  assert.ok(load.state.ok > 20, `${load.state.ok} operations`)

  const resizes = recorder.of('resize')
  assert.equal(
    resizes.map((r) => [r.previous.maxSize, r.next.maxSize, r.reason]),
    [[2, 6, 'test grows'], [6, 3, 'test shrinks']],
  )
  const idleClosed = recorder.of('disconnect').filter((d) => d.reason === 'idle')
  assert.ok(idleClosed.length >= 3, `${idleClosed.length} connections closed idle`)
})

Resize('growing admits waiting operations at once', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const lease = await pool.acquire()
  try {
    const waiting = pool.collection('items').findOne({})
    await sleep(20)
    assert.is(pool.getPoolMetrics().waitingRequests, 1)
    pool.resize({ maxSize: 2 })
    await waiting
    assert.is(pool.getPoolMetrics().waitingRequests, 0)
  } finally {
    lease.release()
  }
})

Resize('raising minSize opens connections at once, and they are kept', async (context) => {
  const { target } = context
  const pool = openPool(target, { dbName: DB, maxIdleTimeMillis: 0 })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.warmup()
  await target.waitForMonitor(app)
  assert.is(await target.poolConnections(app), 1)

  pool.resize({ minSize: 4 })
  await target.waitForPoolConnections(app, 4)
  // The pings that opened them may still be finishing.
  const deadline = Date.now() + 2000
  while (pool.getPoolMetrics().idleConnections !== 4 && Date.now() < deadline) await sleep(10)
  assert.equal([pool.getPoolMetrics().idleConnections, pool.getPoolMetrics().minSize], [4, 4])
  await sleep(200)
  assert.is(await target.poolConnections(app), 4, 'no more than minSize')
})

Resize('sizes outside 0 <= minSize <= maxSize <= maxSizeLimit are rejected; no change, no event', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, minSize: 1, maxSize: 4, maxSizeLimit: 8, events: recorder.listeners })
  context.pools.push(pool)
  const invalid = (size: { minSize?: number; maxSize?: number }): string => {
    try {
      pool.resize(size)
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      return (error as InvalidOptionError).message
    }
    assert.unreachable(`resize(${JSON.stringify(size)}) was accepted`)
    return ''
  }
  assert.match(invalid({ maxSize: 9 }), 'expected `maxSize` to be an integer between 1 and 8, got `9`')
  assert.match(invalid({ maxSize: 0 }), '`maxSize`')
  assert.match(invalid({ minSize: 5 }), 'Invalid options for resize: expected `minSize` to be an integer <= `maxSize` (4), got `5`')
  assert.match(invalid({ maxSize: 2, minSize: 3 }), '`minSize`')
  assert.match(invalid({ maxSize: 1.5 }), 'an integer')
  pool.resize({ maxSize: 4 })
  assert.equal(recorder.of('resize'), [])
  assert.equal([pool.minSize, pool.maxSize, pool.maxSizeLimit], [1, 4, 8])

  // An autoscaler shrinking maxSize alone below minSize takes minSize down with it.
  pool.resize({ minSize: 3 })
  pool.resize({ maxSize: 2 }, { reason: 'autoscale' })
  assert.equal([pool.minSize, pool.maxSize], [2, 2])
  assert.equal(recorder.of('resize').map((r) => [r.next.minSize, r.next.maxSize, r.reason]), [[3, 4, 'manual'], [2, 2, 'autoscale']])

  await pool.close()
  assert.throws(() => pool.resize({ maxSize: 2 }), (error: unknown) => error instanceof PoolClosedError && /Could not resize pool/.test(error.message))
  await rejects(pool.collection('items').findOne({}), PoolClosedError, 'ERR_POOL_CLOSED')
})

Resize.run()
