import { OperationContext, createServiceContainer, type LeakEvent } from '@lifeguard/core'
import { ManualClock } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('PostgresPool leak detection')

async function takeAndForget(pool: { connect(): Promise<{ release(): void }> }) {
  const client = await pool.connect()
  return client
}

test('fires onLeak with the owning operation and the stack where the client was taken', async () => {
  const clock = new ManualClock()
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-owner', { clock, leakDetectionMillis: 50, events: { onLeak: (e) => void leaks.push(e) } })
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container: createServiceContainer(), requestId: 'req-42' })
  const client = await context.run(() => takeAndForget(pool))
  await clock.advance(49)
  assert.is(leaks.length, 0)
  await clock.advance(1)
  assert.is(leaks.length, 1)
  const suspected = leaks[0] as LeakEvent
  assert.is(suspected.pool, 'leak-owner')
  assert.is(suspected.state, 'suspected')
  assert.is(suspected.heldMillis, 50)
  assert.equal(suspected.owner, { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-42' })
  assert.match(suspected.stack ?? '', 'takeAndForget')
  assert.match(suspected.stack ?? '', 'pool.leak.test.ts')
  assert.is(pool.getPoolMetrics().leaks, 1)
  await clock.advance(30)
  client.release()
  assert.is(leaks.length, 2)
  const resolved = leaks[1] as LeakEvent
  assert.is(resolved.state, 'resolved')
  assert.is(resolved.heldMillis, 80)
  assert.equal(resolved.owner, suspected.owner)
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test('a client released in time fires nothing, and one taken outside any operation has no owner', async () => {
  const clock = new ManualClock()
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-none', { clock, leakDetectionMillis: 40, events: { onLeak: (e) => void leaks.push(e) } })
  await pool.query('SELECT 1')
  await clock.advance(60)
  assert.is(leaks.length, 0)
  const client = await pool.connect()
  await clock.advance(40)
  assert.is(leaks.length, 1)
  assert.is(leaks[0]?.owner, undefined)
  client.release()
  assert.is(pool.getPoolMetrics().leaks, 1)
  await closeAndCheck(pool, appName)
})

test('is off by default', async () => {
  const clock = new ManualClock()
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-off', { clock, events: { onLeak: (e) => void leaks.push(e) } })
  const client = await pool.connect()
  await clock.advance(3_600_000)
  client.release()
  assert.is(leaks.length, 0)
  await closeAndCheck(pool, appName)
})

test.run()
