import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, createServiceContainer, type LeakEvent } from '../src/index.js'
import { PoolMonitor, type Checkout } from '../src/adapter.js'
import { ManualClock } from '@lifeguard/test-kit'

const leakDetectionMillis = 20
let clock = new ManualClock()

// Each test gets a fresh manual clock: leak timers fire when the test moves time, not after a sleep.
function createMonitor(onLeak: (event: LeakEvent) => void): PoolMonitor {
  clock = new ManualClock()
  return new PoolMonitor({ name: 'orders', kind: 'postgres', target: 'postgres://app@db/orders', leakDetectionMillis, events: { onLeak }, clock })
}

// A named frame, so the test can find it in the reported stack.
function takeConnectionForReport(pool: PoolMonitor): Checkout {
  return pool.acquired(0)
}

const leaks = suite('PoolMonitor leak detection')

// The caller's frame under `depth` frames of a library between it and the pool (a handle, a pool, an engine).
function takeThroughLayers(pool: PoolMonitor, depth: number): Checkout {
  return depth === 0 ? pool.acquired(0) : takeThroughLayers(pool, depth - 1)
}
function applicationCodeThatLeaks(pool: PoolMonitor): Checkout {
  return takeThroughLayers(pool, 8)
}

leaks("the stack reaches the application's frames past the library's own, which take up V8's default ten", async () => {
  const seen: LeakEvent[] = []
  const pool = createMonitor((e) => void seen.push(e))
  assert.is(Error.stackTraceLimit, 10, "the test runs under V8's default")
  applicationCodeThatLeaks(pool)
  await clock.advance(leakDetectionMillis)
  assert.match(seen[0]?.stack ?? '', 'applicationCodeThatLeaks')
  assert.is(Error.stackTraceLimit, 10, 'left as it was')
})

leaks('a checkout held past leakDetectionMillis is reported as suspected, with owner and stack', async () => {
  const seen: LeakEvent[] = []
  const pool = createMonitor((e) => void seen.push(e))
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container, requestId: 'req-7' })
  const checkout = context.run(() => takeConnectionForReport(pool))
  await clock.advance(leakDetectionMillis - 1)
  assert.is(seen.length, 0)
  await clock.advance(1)
  const event = seen[0] as LeakEvent
  assert.is(event.state, 'suspected')
  assert.is(event.pool, 'orders')
  assert.is(event.heldMillis, leakDetectionMillis)
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
  const pool = createMonitor((e) => void events.push(e))
  const context = OperationContext.create('billing-worker', 'charge', { container: createServiceContainer() })
  const checkout = context.run(() => pool.acquired(0))
  await clock.advance(leakDetectionMillis + 5)
  const useMillis = pool.released(checkout)
  assert.is(events.length, 2)
  const resolved = events[1] as LeakEvent
  assert.is(resolved.state, 'resolved')
  assert.is(resolved.heldMillis, useMillis)
  assert.is(resolved.heldMillis, leakDetectionMillis + 5)
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
  await clock.advance(leakDetectionMillis * 2)
  assert.is(events.length, 0)
  assert.is(pool.stats.leaks, 0)
  assert.is(checkout.leaked, false)
})

leaks('a leak outside any operation has no owner but still a stack', async () => {
  const seen: LeakEvent[] = []
  const pool = createMonitor((e) => void seen.push(e))
  const checkout = takeConnectionForReport(pool)
  await clock.advance(leakDetectionMillis)
  const event = seen[0] as LeakEvent
  assert.not.ok('owner' in event)
  assert.match(event.stack ?? '', 'takeConnectionForReport')
  pool.released(checkout)
})

leaks.run()
