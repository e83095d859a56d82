import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationAbortedError, OperationContext, PoolTimeoutError, PoolWarmupError, createServiceContainer } from '../src/index.js'
import { fakeEngine, type FakeConnection } from './_helpers/fake-factory.js'
import type { PooledConnection } from '../src/adapter.js'
import { rejects } from '@lifeguard/test-kit'

const test = suite('PoolEngine time: deadlines, aborts, idle timeout, lifetime')

test('a waiter times out at its deadline with PoolTimeoutError, and the others keep waiting', async () => {
  const { engine, clock, events, counts } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const holder = await engine.acquire(undefined)
  const first = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(60)
  const second = engine.acquire(undefined)
  await clock.advance(40)
  const error = await first
  assert.match(error.message, "Could not acquire a connection from pool 'fake'. Timed out after 100ms.")
  assert.is(engine.waitingCount, 1)
  assert.equal(events.timeout?.map((e) => e.waitMillis), [100])
  engine.release(holder)
  engine.release(await second)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
})

test('a waiter that times out while its connection attempt is still pending gets that as the cause', async () => {
  // The defaults: connectTimeoutMillis equal to acquireTimeoutMillis, so the waiter's timer fires first.
  const { engine, factory, clock, events } = fakeEngine({ acquireTimeoutMillis: 500, connectTimeoutMillis: 500 })
  factory.auto = false
  const waiting = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(500)
  const error = await waiting
  assert.instance(error.cause, Error)
  assert.is((error.cause as Error).message, 'A connection attempt to the server has not completed within 500ms; 1 connection attempt(s) still pending.')
  assert.match(events.timeout?.[0]?.cause?.message ?? '', 'has not completed within 500ms')
  assert.is(events.error?.length, 1, 'the attempt itself then timed out, and only that is a connection error')
})

test('a waiter that times out only because every connection is busy has no cause', async () => {
  const { engine, clock } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const holder = await engine.acquire(undefined)
  const waiting = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(100)
  assert.is((await waiting).cause, undefined)
  engine.release(holder)
})

test('acquireTimeoutMillis 0 waits without a limit', async () => {
  const { engine, clock } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 0 })
  const holder = await engine.acquire(undefined)
  const waiting = engine.acquire(undefined)
  await clock.advance(3_600_000)
  assert.is(engine.waitingCount, 1)
  engine.release(holder)
  assert.is(await waiting, holder)
})

test("a waiter leaves the queue when its operation aborts; an aborted operation gets nothing, even when a connection is idle", async () => {
  const { engine, counts, monitor } = fakeEngine({ maxSize: 1 })
  const container = createServiceContainer()
  const context = OperationContext.create('test', 'abort', { container })
  const holder = await engine.acquire(undefined)
  const waiting = rejects(engine.acquire(context), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  context.abort(new Error('client went away'))
  const error = await waiting
  assert.match(error.message, "Could not acquire a connection from pool 'fake'. The operation was aborted.")
  assert.is((error.cause as Error).message, 'client went away')
  assert.ok(error.queued, 'it ended a wait for a connection')
  assert.equal([monitor.stats.abandonedWaits, monitor.stats.timeouts], [1, 0], 'counted as an abandoned wait, not a timeout')
  engine.release(holder)
  assert.is(engine.tryAcquire(context), undefined, 'the fast path refuses it too')
  const refused = await rejects(engine.acquire(context), OperationAbortedError)
  assert.not.ok(refused.queued, 'aborted before it asked: it never waited')
  assert.is(monitor.stats.abandonedWaits, 1, 'nor counted')
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  await context.dispose()
})

test('idle connections above minSize close after idleTimeoutMillis, oldest first; minSize stays', async () => {
  const { engine, clock, events, counts } = fakeEngine({ minSize: 1, idleTimeoutMillis: 1000 })
  const [a, b, c] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  await clock.advance(300)
  engine.release(b!)
  await clock.advance(300)
  engine.release(c!)
  await clock.advance(400)
  assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 0 }, 'a idled 1000ms')
  await clock.advance(300)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 }, 'b went too; c is the minimum')
  await clock.advance(60_000)
  assert.equal(engine.totalCount, 1)
  assert.equal(events.disconnect?.map((e) => [e.connectionId, e.reason]), [[a!.connection.id, 'idle'], [b!.connection.id, 'idle']])
})

test('lowering minSize lets idle connections above it time out: the ones idle long enough at once, the others when due', async () => {
  const { engine, clock, events, counts } = fakeEngine({ minSize: 3, maxSize: 5, idleTimeoutMillis: 300 })
  await engine.warmup()
  await clock.advance(100)
  // Two connections used at 100 ms: the one left untouched has idled since 0.
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  engine.release(b!)
  // At 300 ms the housekeeping found nothing above minSize, so no timer is left.
  await clock.advance(250)
  assert.equal(counts(), { total: 3, active: 0, idle: 3, pending: 0, waiting: 0 })
  engine.resize({ minSize: 1 })
  assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 0 }, 'idle 350 ms: closed at once')
  await clock.advance(49)
  assert.is(engine.totalCount, 2)
  await clock.advance(1)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 }, 'idle 300 ms since its release: closed when due')
  await clock.advance(60_000)
  assert.is(engine.totalCount, 1, 'the new minSize stays')
  assert.equal(events.disconnect?.map((e) => e.reason), ['idle', 'idle'])
})

test('idleTimeoutMillis 0 keeps idle connections', async () => {
  const { engine, clock } = fakeEngine({ idleTimeoutMillis: 0 })
  engine.release(await engine.acquire(undefined))
  await clock.advance(24 * 3_600_000)
  assert.is(engine.idleCount, 1)
})

test('lifetimes are jittered within bounds; an expired idle connection closes, a busy one on release', async () => {
  const randoms = [0, 0.5, 0.999]
  const { engine, clock, events, counts } = fakeEngine({ maxLifetimeMillis: 10_000, maxLifetimeJitterMillis: 1000, idleTimeoutMillis: 0, random: () => randoms.shift() ?? 0 })
  const [a, b, c] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  assert.equal([a!, b!, c!].map((lease) => lease.expiresAt - lease.openedAt), [10_000, 9500, 9001])
  engine.release(c!)
  engine.release(b!)
  await clock.advance(9001)
  assert.equal(events.disconnect?.map((e) => [e.connectionId, e.reason]), [[c!.connection.id, 'lifetime']])
  await clock.advance(499)
  assert.equal(events.disconnect?.length, 2, 'b expired while idle')
  await clock.advance(1000)
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 }, 'a is busy: it stays until released')
  engine.release(a!)
  await Promise.resolve()
  assert.equal(events.disconnect?.map((e) => e.reason), ['lifetime', 'lifetime', 'lifetime'])
  assert.is(engine.totalCount, 0)
})

test('a connection attempt that takes longer than connectTimeoutMillis is abandoned', async () => {
  const { engine, factory, clock, events } = fakeEngine({ connectTimeoutMillis: 200, acquireTimeoutMillis: 1000 })
  factory.auto = false
  const waiting = rejects(engine.acquire(undefined), PoolTimeoutError)
  await clock.advance(200)
  assert.match(events.error?.[0]?.error.message ?? '', 'Connection attempt timed out after 200ms (connectTimeoutMillis).')
  assert.is((events.error?.[0]?.error as { code?: string }).code, 'ERR_CONNECT_TIMEOUT', 'a code a listener can match, not only words')
  await clock.advance(800)
  const error = await waiting
  assert.match((error.cause as Error).message, 'Connection attempt timed out after 200ms (connectTimeoutMillis).')
})

test('an attempt whose factory ignores its aborted signal ends 2 s after its timeout: the pool is not held, and the connection opened late is closed', async () => {
  const { engine, factory, clock, events } = fakeEngine({ connectTimeoutMillis: 200, acquireTimeoutMillis: 0 })
  factory.auto = false
  factory.ignoreAborts = true
  let handed: PooledConnection<FakeConnection> | undefined
  const waiting = engine.acquire(undefined).then((lease) => (handed = lease))
  await clock.advance(200)
  assert.is(engine.pendingCount, 1, 'the factory has its time to give up')
  assert.is(events.error, undefined)
  await clock.advance(2_000)
  // Before: the attempt stayed pending for good, and with it a place in the pool.
  assert.match(events.error?.[0]?.error.message ?? '', 'Connection attempt timed out after 200ms (connectTimeoutMillis).')
  const late = factory.pending.shift()!
  // The waiter's next attempt, after the backoff.
  await clock.advance(25)
  assert.is(factory.pending.length, 1)
  const lateConnection = { id: 99, broken: false, destroyed: false, validations: 0 }
  late.result.resolve(lateConnection)
  await clock.advance(0)
  assert.ok(lateConnection.destroyed, 'closed, not handed out')
  assert.equal(events.connect?.map((e) => e.connectionId), [99])
  assert.equal(events.disconnect?.map((e) => [e.connectionId, e.reason]), [[99, 'closed']])
  assert.is(handed, undefined)
  factory.openNext()
  await waiting
  assert.is.not(handed!.connection.id, 99)
  engine.release(handed!)
  await engine.close()
  assert.is(clock.pendingTimers, 0)
})

test('a factory that gives up within its grace after the abort ends the attempt itself, once', async () => {
  const { engine, factory, clock, events } = fakeEngine({ connectTimeoutMillis: 200, acquireTimeoutMillis: 0 })
  factory.auto = false
  factory.ignoreAborts = true
  const waiting = engine.acquire(undefined)
  await clock.advance(200 + 1_000)
  factory.failNext(new Error('gave up late'))
  await clock.advance(0)
  assert.is(events.error?.length, 1)
  assert.match(events.error![0]!.error.message, 'Connection attempt timed out after 200ms', 'the abort is the reason')
  // The retry after the backoff is answered at once.
  factory.auto = true
  await clock.advance(25)
  const lease = await waiting
  await clock.advance(2_000)
  assert.is(events.error?.length, 1, 'the grace ended nothing more')
  engine.release(lease)
  await engine.close()
  assert.is(clock.pendingTimers, 0)
})

test('a close abandons an attempt whose factory ignores it within its own wait, with no limit on connecting', async () => {
  const { engine, factory, clock } = fakeEngine({ connectTimeoutMillis: 0, acquireTimeoutMillis: 0 })
  factory.auto = false
  factory.ignoreAborts = true
  void engine.acquire(undefined).catch(() => undefined)
  await clock.advance(0)
  assert.is(engine.pendingCount, 1)
  let closed = false
  void engine.close({ timeoutMillis: 100 }).then(() => (closed = true))
  await clock.advance(100 + 2_000)
  // Before: the close ended with the attempt still counted, for good.
  assert.ok(closed)
  assert.is(engine.pendingCount, 0)
  assert.is(clock.pendingTimers, 0)
})

test('a warm-up whose factory ignores its aborted signal fails 2 s after its timeout instead of waiting for good', async () => {
  const { engine, factory, clock } = fakeEngine({ connectTimeoutMillis: 0 })
  factory.auto = false
  factory.ignoreAborts = true
  let outcome: unknown
  engine.warmup({ connections: 1, timeoutMillis: 500 }).then(undefined, (error: unknown) => void (outcome = error))
  await clock.advance(500 + 2_000 - 1)
  assert.is(outcome, undefined)
  await clock.advance(1)
  assert.instance(outcome, PoolWarmupError)
  assert.is(engine.pendingCount, 0, 'its place is free')
  await engine.close()
})

test.run()
