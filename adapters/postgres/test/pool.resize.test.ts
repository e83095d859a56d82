import { InvalidOptionError, PoolClosedError, type ResizeEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { PostgresPoolClient } from '../src/index.js'
import { ManualClock, serverConnectionCount, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { closeAndCheck, sleep, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool resize')

test('growing serves waiters at once and lets more connections open', async () => {
  const resizes: ResizeEvent[] = []
  const { pool, appName } = testPool('resize-grow', { maxSize: 2, events: { onResize: (e) => void resizes.push(e) } })
  const held = [await pool.connect(), await pool.connect()]
  const waiting = pool.connect()
  await sleep(10)
  assert.is(pool.waitingCount, 1)
  pool.resize({ maxSize: 4 }, { reason: 'load', details: { utilization: 100 } })
  held.push(await waiting)
  held.push(await pool.connect())
  assert.is(pool.getPoolMetrics().activeConnections, 4)
  assert.is(pool.getPoolMetrics().maxSize, 4)
  assert.is(await serverConnectionCount(appName), 4)
  assert.equal(resizes, [{ pool: 'resize-grow', kind: 'postgres', previous: { minSize: 0, maxSize: 2 }, next: { minSize: 0, maxSize: 4 }, reason: 'load', details: { utilization: 100 } }])
  for (const client of held) client.release()
  await closeAndCheck(pool, appName)
})

test('shrinking closes idle connections above the new size at once', async () => {
  const reasons: string[] = []
  const { pool, appName } = testPool('resize-idle', { maxSize: 4, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  await pool.warmup({ connections: 4 })
  assert.is(await serverConnectionCount(appName), 4)
  pool.resize({ maxSize: 2 })
  await waitForConnectionCount(appName, 2)
  await until('two disconnect events', () => reasons.length === 2)
  assert.equal(reasons, ['resize', 'resize'])
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.totalConnections, 2)
  assert.is(metrics.idleConnections, 2)
  assert.is(metrics.maxSize, 2)
  await pool.query('SELECT 1')
  assert.is(await serverConnectionCount(appName), 2)
  await closeAndCheck(pool, appName)
})

test('shrinking closes busy connections as they are released, and new callers wait for the new size', async () => {
  const reasons: string[] = []
  const { pool, appName } = testPool('resize-busy', { maxSize: 4, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  const held: PostgresPoolClient[] = []
  for (let i = 0; i < 4; i++) held.push(await pool.connect())
  pool.resize({ maxSize: 2 })
  assert.is(await serverConnectionCount(appName), 4, 'busy connections stay open')
  const waiting = pool.connect()
  await sleep(10)
  assert.is(pool.waitingCount, 1, 'four held is above the new size of two')
  held.pop()?.release()
  await waitForConnectionCount(appName, 3)
  held.pop()?.release()
  await waitForConnectionCount(appName, 2)
  assert.is(pool.waitingCount, 1, 'still two held')
  held.pop()?.release()
  const late = await waiting
  assert.is(pool.getPoolMetrics().activeConnections, 2)
  late.release()
  held.pop()?.release()
  await sleep(20)
  assert.equal(reasons, ['resize', 'resize'])
  assert.is(await serverConnectionCount(appName), 2)
  assert.is(pool.getPoolMetrics().totalConnections, 2)
  await closeAndCheck(pool, appName)
})

test('a connection closed by a shrink counts as closing until the server has let it go', async () => {
  const reasons: string[] = []
  const { pool, appName } = testPool('resize-closing', { maxSize: 2, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  const held = [await pool.connect(), await pool.connect()]
  assert.is(pool.getPoolCounters().closingConnections, 0)
  pool.resize({ maxSize: 1 })
  held.pop()?.release()
  const counters = pool.getPoolCounters()
  assert.equal([counters.totalConnections, counters.closingConnections], [1, 1], 'left the pool, still closing')
  await until('the disconnect event', () => reasons.length === 1)
  assert.is(pool.getPoolCounters().closingConnections, 0)
  assert.is(await serverConnectionCount(appName), 1)
  held.pop()?.release()
  await closeAndCheck(pool, appName)
})

test('a shrink with keepSurplusMillis keeps its connections open on the server until a grow reuses them or their time is up', async () => {
  const clock = new ManualClock()
  const connects: unknown[] = []
  const reasons: string[] = []
  const { pool, appName } = testPool('resize-keep', {
    clock,
    maxSize: 3,
    events: { onConnect: (e) => void connects.push(e.connectionId), onDisconnect: (e) => void reasons.push(e.reason) },
  })
  const held = [await pool.connect(), await pool.connect(), await pool.connect()]
  pool.resize({ maxSize: 1 }, { keepSurplusMillis: 1000 })
  held.pop()?.release()
  held.pop()?.release()
  const counters = pool.getPoolCounters()
  assert.equal([counters.totalConnections, counters.parkedConnections, counters.closingConnections], [1, 2, 0], 'two parked, none closing')
  assert.is(await serverConnectionCount(appName), 3, 'still open on the server')
  pool.resize({ maxSize: 2 }, { keepSurplusMillis: 1000 })
  const again = await pool.connect()
  const result = await again.query<{ one: number }>('SELECT 1 AS one')
  assert.is(result.rows[0]?.one, 1, 'a parked connection works when it comes back')
  assert.is(connects.length, 3, 'none opened')
  assert.is(pool.getPoolCounters().parkedConnections, 1)
  await clock.advance(1000)
  await until('the parked connection closed', () => reasons.length === 1)
  assert.equal(reasons, ['resize'])
  await waitForConnectionCount(appName, 2)
  again.release()
  held.pop()?.release()
  await closeAndCheck(pool, appName)
})

test('lowering maxSize below minSize lowers minSize too; a same-size call emits nothing', async () => {
  const resizes: ResizeEvent[] = []
  const { pool, appName } = testPool('resize-min', { minSize: 3, maxSize: 5, events: { onResize: (e) => void resizes.push(e) } })
  pool.resize({ maxSize: 2 })
  assert.is(pool.minSize, 2)
  pool.resize({ minSize: 2, maxSize: 2 })
  assert.is(resizes.length, 1)
  assert.is(resizes[0]?.reason, 'manual')
  await closeAndCheck(pool, appName)
})

test('rejects bad sizes with InvalidOptionError and keeps the old size', async () => {
  const { pool, appName } = testPool('resize-invalid', { maxSize: 3 })
  assert.throws(() => pool.resize({ maxSize: 0 }), (error: unknown) => error instanceof InvalidOptionError && /`maxSize` to be an integer between 1 and 10000, got `0`/.test(error.message))
  assert.throws(() => pool.resize({ minSize: 4, maxSize: 3 }), (error: unknown) => error instanceof InvalidOptionError && error.option === 'minSize' && /<= `maxSize` \(3\)/.test(error.message))
  assert.throws(() => pool.resize({ maxSize: 2.5 }), (error: unknown) => error instanceof InvalidOptionError && error.code === 'ERR_INVALID_OPTION')
  assert.throws(() => pool.resize({ size: 2 } as never), (error: unknown) => error instanceof InvalidOptionError && /unknown option `size`/.test(error.message))
  assert.is(pool.maxSize, 3)
  await closeAndCheck(pool, appName)
})

test('refuses to resize a closed pool', async () => {
  const { pool, appName } = testPool('resize-closed')
  await pool.close()
  const error = (() => {
    try {
      pool.resize({ maxSize: 2 })
    } catch (caught) {
      return caught
    }
    return undefined
  })()
  assert.instance(error, PoolClosedError)
  assert.match((error as Error).message, "Could not resize pool 'resize-closed'. The pool is closed.")
  await rejects(pool.connect(), PoolClosedError, 'ERR_POOL_CLOSED')
  await closeAndCheck(pool, appName)
})

test.run()
