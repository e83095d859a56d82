import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects, throwsError } from '@lifeguard/test-kit'
import { PoolClosedError, PoolTimeoutError } from '../src/index.js'
import { isPending } from './_helpers/async.js'
import { fakeEngine } from './_helpers/fake-factory.js'

const test = suite('PoolEngine maintenance: suspend, resume, softEvict')

test('suspend holds every checkout (even with idle connections) and opens nothing; resume serves them oldest first', async () => {
  const { engine, factory, clock, monitor, events, counts } = fakeEngine({ maxSize: 2 })
  const holder = await engine.acquire(undefined)
  engine.release(holder)
  engine.suspend()
  assert.is(engine.suspended, true)
  assert.is(engine.tryAcquire(undefined), undefined, 'the fast path is closed')
  const order: string[] = []
  const first = engine.acquire(undefined).then((lease) => (order.push('first'), lease))
  const second = engine.acquire(undefined).then((lease) => (order.push('second'), lease))
  await clock.advance(500)
  assert.ok(await isPending(first))
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 2 })
  assert.is(factory.created.length, 1, 'no connection opened for the waiters')
  assert.is(monitor.snapshot(engine.liveState()).suspended, true)
  engine.resume()
  const [a, b] = await Promise.all([first, second])
  assert.equal(order, ['first', 'second'])
  assert.is(a, holder, 'the idle connection went to the oldest waiter')
  assert.is.not(b, holder)
  assert.equal(events.suspend?.map((e) => [e.activeConnections, e.waitingRequests]), [[0, 0]])
  assert.equal(events.resume?.map((e) => [e.suspendedMillis, e.waitingRequests]), [[500, 2]])
  assert.is(monitor.snapshot(engine.liveState()).suspended, false)
})

test('while suspended, waiters still time out, and connections in use are released and reused normally after resume', async () => {
  const { engine, clock, counts } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const busy = await engine.acquire(undefined)
  engine.suspend()
  const late = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  engine.release(busy)
  await clock.advance(100)
  await late
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  engine.resume()
  assert.is(engine.tryAcquire(undefined), busy)
})

test('suspend and resume are idempotent; suspend refuses a closing pool, resume and softEvict then do nothing', async () => {
  const { engine, events } = fakeEngine()
  engine.suspend()
  engine.suspend()
  engine.resume()
  engine.resume()
  assert.is(events.suspend?.length, 1)
  assert.is(events.resume?.length, 1)
  await engine.close()
  const error = throwsError(() => engine.suspend(), PoolClosedError, 'ERR_POOL_CLOSED')
  assert.match(error.message, "Could not suspend pool 'fake'")
  engine.resume()
  assert.equal(engine.softEvict(), { closed: 0, closingOnRelease: 0 })
})

test('closing a suspended pool refuses every waiter and opens nothing', async () => {
  const { engine, factory } = fakeEngine({ maxSize: 2 })
  engine.suspend()
  const waiting = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  await engine.close()
  await waiting
  assert.is(factory.created.length, 0)
  assert.is(engine.state, 'closed')
})

test('warmup opens connections while suspended (to pre-open them before resume) without serving waiters', async () => {
  const { engine, counts } = fakeEngine({ maxSize: 3 })
  engine.suspend()
  const waiting = engine.acquire(undefined)
  const report = await engine.warmup({ connections: 2 })
  assert.is(report.opened, 2)
  assert.ok(await isPending(waiting))
  assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 1 })
  engine.resume()
  await waiting
  assert.equal(counts(), { total: 2, active: 1, idle: 1, pending: 0, waiting: 0 })
})

test('a warm-up that fails while suspended fails none of the callers held (the new server still refusing); resume serves them', async () => {
  for (const permanent of [false, true]) {
    // retryCreate off: the drop-in Pool's setting, where any failed attempt used to fail a waiter.
    const { engine, factory, clock, counts } = fakeEngine({ maxSize: 4, acquireTimeoutMillis: 5000, retryCreate: false })
    const refused = new Error(permanent ? 'database "orders" does not exist' : 'connect ECONNREFUSED')
    if (permanent) factory.permanent.add(refused)
    engine.suspend()
    const held = [engine.acquire(undefined), engine.acquire(undefined)].map((caller) => caller.catch((error: Error) => error.message))
    factory.auto = false
    const warming = engine.warmup({ connections: 4 }).catch((error: Error) => error.name)
    await clock.advance(0)
    assert.is(factory.pending.length, 4)
    for (let i = 0; i < 4; i++) factory.failNext(refused)
    assert.is(await warming, 'PoolWarmupError')
    await clock.advance(1000)
    for (const caller of held) assert.ok(await isPending(caller), `a held caller was failed by the warm-up (${refused.message})`)
    assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 2 })
    factory.auto = true
    engine.resume()
    for (const lease of await Promise.all(held)) {
      assert.type(lease, 'object', `a held caller was failed: ${String(lease)}`)
      engine.release(lease as Exclude<typeof lease, string>)
    }
    assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 0 })
    await engine.close({ timeoutMillis: 0 })
  }
})

test('softEvict closes idle connections now and busy ones on release, with reason evicted; new ones open as usual', async () => {
  const { engine, factory, events, counts } = fakeEngine({ maxSize: 3 })
  const [a, b, c] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a)
  engine.release(b)
  const report = engine.softEvict()
  assert.equal(report, { closed: 2, closingOnRelease: 1 })
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 })
  engine.release(c)
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  await Promise.resolve()
  assert.equal(events.disconnect?.map((e) => e.reason), ['evicted', 'evicted', 'evicted'])
  const fresh = await engine.acquire(undefined)
  assert.is(fresh.connection, factory.created[3], 'a new connection')
  engine.release(fresh)
  assert.is(engine.idleCount, 1, 'connections opened after the eviction stay')
})

test('softEvict also retires connections still being opened, and the waiter they were for gets a new one', async () => {
  const { engine, factory, events } = fakeEngine({ maxSize: 2 })
  factory.auto = false
  const waiting = engine.acquire(undefined)
  assert.equal(engine.softEvict(), { closed: 0, closingOnRelease: 1 })
  factory.openNext()
  await Promise.resolve()
  await Promise.resolve()
  assert.is(factory.pending.length, 1, 'a replacement is being opened')
  const replacement = factory.openNext()
  const lease = await waiting
  assert.is(lease.connection, replacement)
  assert.equal(events.disconnect?.map((e) => e.reason), ['evicted'])
})

test('softEvict with a filter retires only the connections it accepts', async () => {
  const { engine, counts } = fakeEngine({ maxSize: 3 })
  const leases = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  for (const lease of leases) engine.release(lease)
  const report = engine.softEvict((connection) => connection.id !== 2)
  assert.equal(report, { closed: 2, closingOnRelease: 0 })
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  assert.is(engine.tryAcquire(undefined)?.connection.id, 2)
})

test('a pool busy to its size warms up: its connections in use count as warm, and none is opened', async () => {
  const { engine, factory } = fakeEngine({ maxSize: 2 })
  const first = await engine.acquire(undefined)
  const second = await engine.acquire(undefined)
  const created = factory.created.length
  const report = await engine.warmup({ connections: 2 })
  assert.equal([report.requested, report.opened, report.failed], [2, 2, 0])
  assert.is(factory.created.length, created)
  engine.release(first)
  engine.release(second)
})

test('after softEvict(), connections still in use are not warm: the warm-up opens new ones', async () => {
  const { engine, factory } = fakeEngine({ maxSize: 3 })
  const old = await engine.acquire(undefined)
  engine.softEvict()
  const created = factory.created.length
  const report = await engine.warmup({ connections: 1 })
  assert.equal([report.requested, report.opened, report.failed], [1, 1, 0])
  assert.is(factory.created.length, created + 1, 'a connection to the new server')
  engine.release(old)
})

test.run()
