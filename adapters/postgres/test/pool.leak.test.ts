import { OperationContext, createServiceContainer, type LeakEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { closeAndCheck, sleep, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool leak detection')

async function takeAndForget(pool: { connect(): Promise<{ release(): void }> }) {
  const client = await pool.connect()
  return client
}

test('fires onLeak with the owning operation and the stack where the client was taken', async () => {
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-owner', { leakDetectionMillis: 50, events: { onLeak: (e) => void leaks.push(e) } })
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container: createServiceContainer(), requestId: 'req-42' })
  const client = await context.run(() => takeAndForget(pool))
  await until('the leak event', () => leaks.length === 1)
  const suspected = leaks[0] as LeakEvent
  assert.is(suspected.pool, 'leak-owner')
  assert.is(suspected.state, 'suspected')
  assert.ok(suspected.heldMillis >= 45)
  assert.equal(suspected.owner, { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-42' })
  assert.match(suspected.stack ?? '', 'takeAndForget')
  assert.match(suspected.stack ?? '', 'pool.leak.test.ts')
  assert.is(pool.getPoolMetrics().leaks, 1)
  await sleep(30)
  client.release()
  assert.is(leaks.length, 2)
  const resolved = leaks[1] as LeakEvent
  assert.is(resolved.state, 'resolved')
  assert.ok(resolved.heldMillis >= 75, `held ${resolved.heldMillis}ms in total`)
  assert.equal(resolved.owner, suspected.owner)
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test('a client released in time fires nothing, and one taken outside any operation has no owner', async () => {
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-none', { leakDetectionMillis: 40, events: { onLeak: (e) => void leaks.push(e) } })
  await pool.query('SELECT 1')
  await sleep(60)
  assert.is(leaks.length, 0)
  const client = await pool.connect()
  await until('the leak event', () => leaks.length === 1)
  assert.is(leaks[0]?.owner, undefined)
  client.release()
  assert.is(pool.getPoolMetrics().leaks, 1)
  await closeAndCheck(pool, appName)
})

test('is off by default', async () => {
  const leaks: LeakEvent[] = []
  const { pool, appName } = testPool('leak-off', { events: { onLeak: (e) => void leaks.push(e) } })
  const client = await pool.connect()
  await sleep(50)
  client.release()
  assert.is(leaks.length, 0)
  await closeAndCheck(pool, appName)
})

test.run()
