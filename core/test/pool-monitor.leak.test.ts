import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, createServiceContainer, type LeakEvent } from '../src/index.js'
import { PoolMonitor, type Checkout } from '../src/adapter.js'
import { deferred, sleep, within } from './_helpers/async.js'

const leakDetectionMillis = 20

function createMonitor(onLeak: (event: LeakEvent) => void): PoolMonitor {
  return new PoolMonitor({ name: 'orders', kind: 'postgres', target: 'postgres://app@db/orders', leakDetectionMillis, events: { onLeak } })
}

// A named frame, so the test can find it in the reported stack.
function takeConnectionForReport(pool: PoolMonitor): Checkout {
  return pool.acquired(0)
}

const leaks = suite('PoolMonitor leak detection')

leaks('a checkout held past leakDetectionMillis is reported as suspected, with owner and stack', async () => {
  const suspected = deferred<LeakEvent>()
  const pool = createMonitor((e) => suspected.resolve(e))
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container, requestId: 'req-7' })
  const checkout = context.run(() => takeConnectionForReport(pool))
  const event = await within(suspected.promise, 2000, 'the leak event')
  assert.is(event.state, 'suspected')
  assert.is(event.pool, 'orders')
  assert.ok(event.heldMillis >= leakDetectionMillis - 5, `heldMillis ${event.heldMillis}`)
  assert.equal(event.owner, { handler: 'orders-api', operation: 'GET /orders/:id', requestId: 'req-7' })
  assert.ok(event.stack)
  assert.match(event.stack ?? '', 'takeConnectionForReport')
  assert.not.match(event.stack ?? '', /^Error/)
  assert.is(checkout.leaked, true)
  assert.is(pool.stats.leaks, 1)
  pool.released(checkout)
  await context.dispose()
})

leaks('releasing a suspected leak later reports it as resolved with the full hold time', async () => {
  const events: LeakEvent[] = []
  const suspected = deferred<void>()
  const pool = createMonitor((e) => {
    events.push(e)
    if (e.state === 'suspected') suspected.resolve()
  })
  const context = OperationContext.create('billing-worker', 'charge', { container: createServiceContainer() })
  const checkout = context.run(() => pool.acquired(0))
  await within(suspected.promise, 2000, 'the leak event')
  await sleep(5)
  const useMillis = pool.released(checkout)
  assert.is(events.length, 2)
  const resolved = events[1] as LeakEvent
  assert.is(resolved.state, 'resolved')
  assert.is(resolved.heldMillis, useMillis)
  assert.ok(resolved.heldMillis >= (events[0] as LeakEvent).heldMillis)
  assert.equal(resolved.owner, { handler: 'billing-worker', operation: 'charge' })
  assert.not.ok('stack' in resolved)
  assert.is(pool.stats.leaks, 1)
  await context.dispose()
})

leaks('a checkout released in time is never reported', async () => {
  const events: LeakEvent[] = []
  const pool = createMonitor((e) => void events.push(e))
  const checkout = pool.acquired(0)
  assert.ok(checkout.leakTimer)
  pool.released(checkout)
  await sleep(leakDetectionMillis * 2)
  assert.is(events.length, 0)
  assert.is(pool.stats.leaks, 0)
  assert.is(checkout.leaked, false)
})

leaks('a leak outside any operation has no owner but still a stack', async () => {
  const suspected = deferred<LeakEvent>()
  const pool = createMonitor((e) => suspected.resolve(e))
  const checkout = takeConnectionForReport(pool)
  const event = await within(suspected.promise, 2000, 'the leak event')
  assert.not.ok('owner' in event)
  assert.match(event.stack ?? '', 'takeConnectionForReport')
  pool.released(checkout)
})

leaks.run()
