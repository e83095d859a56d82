import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, PoolExhaustedError, PoolTimeoutError, createServiceContainer } from '../src/index.js'
import { fakeEngine } from './_helpers/fake-factory.js'
import { rejects } from '@lifeguard/test-kit'

const test = suite('PoolEngine checkout')

test('opens a connection on demand, and the counts add up after every step', async () => {
  const { engine, counts } = fakeEngine()
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  const acquiring = engine.acquire(undefined)
  assert.equal(counts(), { total: 1, active: 0, idle: 0, pending: 1, waiting: 1 })
  const lease = await acquiring
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 })
  engine.release(lease)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  assert.equal(engine.liveState(), { totalConnections: 1, activeConnections: 0, idleConnections: 1, waitingRequests: 0, minSize: 0, maxSize: 3, suspended: false, closingConnections: 0, parkedConnections: 0 })
})

test('reuses the most recently released connection first (LIFO)', async () => {
  const { engine } = fakeEngine()
  const [a, b, c] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  engine.release(c!)
  engine.release(b!)
  const first = engine.tryAcquire(undefined)
  const second = engine.tryAcquire(undefined)
  assert.is(first, b)
  assert.is(second, c)
})

test('tryAcquire takes an idle connection without a promise, and never jumps the queue', async () => {
  const { engine, counts } = fakeEngine({ maxSize: 1 })
  assert.is(engine.tryAcquire(undefined), undefined, 'nothing idle yet')
  const lease = await engine.acquire(undefined)
  const waiting = engine.acquire(undefined)
  engine.release(lease)
  assert.is(engine.tryAcquire(undefined), undefined, 'a waiter is first in line')
  assert.is(await waiting, lease)
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 })
})

test("a waiter outside any operation is its checkout's owner: not the operation that released the connection", async () => {
  const { engine, events } = fakeEngine({ maxSize: 1 })
  const operation = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer() })
  const held = await operation.run(() => engine.acquire(operation))
  const waiting = engine.acquire(undefined)
  // Released inside the operation: the grant to the waiter happens in its call.
  operation.run(() => engine.release(held))
  const lease = await waiting
  assert.is(lease.checkout?.context, undefined)
  assert.equal(events.acquire?.map((e) => e.owner?.operation), ['GET /orders', undefined])
  engine.release(lease)
  assert.equal(events.release?.map((e) => e.owner?.operation), ['GET /orders', undefined])
  await operation.dispose()
})

test('serves waiters in the order they asked', async () => {
  const { engine } = fakeEngine({ maxSize: 1 })
  const holder = await engine.acquire(undefined)
  const order: number[] = []
  const waits = [1, 2, 3].map((n) => engine.acquire(undefined).then((lease) => {
    order.push(n)
    engine.release(lease)
  }))
  assert.is(engine.waitingCount, 3)
  engine.release(holder)
  await Promise.all(waits)
  assert.equal(order, [1, 2, 3])
})

test('maxWaitingRequests 0 never waits for a busy connection, but may wait for a new one', async () => {
  const { engine } = fakeEngine({ maxSize: 1, maxWaitingRequests: 0 })
  const lease = await engine.acquire(undefined)
  await rejects(engine.acquire(undefined), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  engine.release(lease)
})

test('maxWaitingRequests refuses the next caller at once with PoolExhaustedError', async () => {
  const { engine, monitor } = fakeEngine({ maxSize: 1, maxWaitingRequests: 1 })
  const holder = await engine.acquire(undefined)
  const queued = engine.acquire(undefined)
  const error = await rejects(engine.acquire(undefined), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  assert.match(error.message, "pool 'fake'")
  // Shed load shows in the metrics, where no timeout counts it.
  assert.equal([monitor.stats.rejectedRequests, monitor.stats.timeouts], [1, 0])
  engine.release(holder)
  engine.release(await queued)
})

test("a control query's request is served first and is not refused by maxWaitingRequests", async () => {
  const { engine } = fakeEngine({ maxSize: 1, maxWaitingRequests: 2 })
  const holder = await engine.acquire(undefined)
  const order: string[] = []
  const ask = (name: string, first = false): Promise<void> =>
    new Promise((resolve) => {
      engine.request((error, lease) => {
        order.push(error === undefined ? name : `${name}: ${error.name}`)
        if (lease !== undefined) queueMicrotask(() => engine.release(lease))
        resolve()
      }, undefined, first)
    })
  const callers = [ask('a'), ask('b'), ask('c')]
  const control = ask('control', true)
  engine.release(holder)
  await Promise.all([...callers, control])
  assert.equal(order, ['c: PoolExhaustedError', 'control', 'a', 'b'])
})

test('a control query keeps its own deadline; the waiters behind it time out on theirs', async () => {
  const { engine, clock } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const holder = await engine.acquire(undefined)
  const waiter = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(60)
  let control: Error | undefined | 'waiting' = 'waiting'
  engine.request((error, lease) => {
    control = error
    if (lease !== undefined) engine.release(lease)
  }, undefined, true)
  await clock.advance(40)
  await waiter
  const later = engine.acquire(undefined)
  assert.is(control, 'waiting', 'at 100 ms the first waiter timed out; the control query asked at 60 waits until 160')
  await clock.advance(60)
  assert.instance(control, PoolTimeoutError)
  assert.is(engine.waitingCount, 1, 'the caller behind them still waits (until 200)')
  engine.release(holder)
  engine.release(await later)
})

test('a second release, and a release of an idle connection, change nothing', async () => {
  const { engine, counts, events } = fakeEngine()
  const lease = await engine.acquire(undefined)
  engine.release(lease)
  engine.release(lease)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  assert.is(events.release?.length, 1)
})

test('release(true) and release(error) close the connection; an error is reported once', async () => {
  const { engine, factory, counts, events } = fakeEngine()
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!, true)
  engine.release(b!, new Error('protocol out of sync'))
  await Promise.resolve()
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(factory.destroyed.map((c) => c.id), [a!.connection.id, b!.connection.id])
  assert.equal(events.disconnect?.map((e) => e.reason), ['released', 'error'])
  assert.equal(events.error?.map((e) => e.error.message), ['protocol out of sync'])
})

test('acquire and release events carry the wait and use times from the clock', async () => {
  const { engine, clock, events } = fakeEngine({ maxSize: 1 })
  const holder = await engine.acquire(undefined)
  const waiting = engine.acquire(undefined)
  await clock.advance(40)
  engine.release(holder)
  const lease = await waiting
  await clock.advance(15)
  engine.release(lease)
  assert.equal(events.acquire?.map((e) => e.waitMillis), [0, 40])
  assert.equal(events.release?.map((e) => e.useMillis), [40, 15])
})

test('a release listener sees the connection back in place, and one that checks out at once takes it rather than opening another', async () => {
  const { engine, factory, monitor, events, counts } = fakeEngine({ maxSize: 1 })
  const seen: ReturnType<typeof counts>[] = []
  const taken: unknown[] = []
  const off = monitor.events.on('release', () => {
    seen.push(counts())
    taken.push(engine.tryAcquire(undefined))
  })
  const lease = await engine.acquire(undefined)
  engine.release(lease)
  off()
  assert.equal(seen, [{ total: 1, active: 0, idle: 1, pending: 0, waiting: 0 }])
  assert.equal(taken, [lease], 'the listener got the connection just released')
  assert.is(factory.created.length, 1, 'nothing more opened')
  assert.is(events.disconnect, undefined, "no connection closed for a 'resize' that never happened")
  engine.release(lease)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
})

test.run()
