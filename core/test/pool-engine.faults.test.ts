import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PoolTimeoutError } from '../src/index.js'
import { fakeEngine } from './_helpers/fake-factory.js'
import { deferred } from './_helpers/async.js'
import { rejects } from '@lifeguard/test-kit'

const test = suite('PoolEngine faults: failed creates, broken connections, validation')

test('a failed create with nobody waiting is reported and retried only to keep minSize', async () => {
  const { engine, factory, clock, events, counts } = fakeEngine({ minSize: 1 })
  factory.failures.push(new Error('connect ECONNREFUSED'))
  await engine.warmup().catch(() => undefined)
  assert.equal(events.error?.map((e) => [e.source, e.error.message]), [['connection', 'connect ECONNREFUSED']])
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.is(engine.lastCreateError?.message, 'connect ECONNREFUSED')
  await clock.advance(25)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 }, 'refilled to minSize after the backoff')
  assert.is(engine.lastCreateError, undefined)
})

test('transient create failures are retried with backoff while callers wait; they time out with the last failure as cause', async () => {
  const { engine, factory, clock } = fakeEngine({ acquireTimeoutMillis: 100 })
  factory.failures.push(...Array.from({ length: 10 }, (_, i) => new Error(`refused ${i + 1}`)))
  const waiting = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(100)
  const error = await waiting
  // Attempts at 0, 25, 75 (backoff 25, 50, 100): the third failure is the last before the deadline.
  assert.is((error.cause as Error).message, 'refused 3')
})

test('a failure whose retry finds nothing to open is forgotten: a later timeout of a busy pool does not carry it', async () => {
  const { engine, factory, clock } = fakeEngine({ maxSize: 2, acquireTimeoutMillis: 100 })
  const first = await engine.acquire(undefined)
  const second = await engine.acquire(undefined)
  factory.failures.push(new Error('sorry, too many clients already'))
  const waiting = engine.acquire(undefined)
  // A connection breaks: its replacement, opened for the waiter, is refused, and a retry is armed.
  factory.breakConnection(second.connection)
  engine.release(second)
  await clock.advance(0)
  assert.is(engine.lastCreateError?.message, 'sorry, too many clients already')
  engine.release(first) // the waiter is served by the connection that came back
  const served = await waiting
  await clock.advance(25) // the retry: nobody needs a new connection
  assert.is(engine.lastCreateError, undefined)
  // Later, a checkout waits for an attempt that never answers: its timeout says so, not the old refusal.
  factory.auto = false
  const late = rejects(engine.acquire(undefined), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(100)
  assert.match(((await late).cause as Error).message, 'A connection attempt to the server has not completed')
  engine.release(served)
})

test('the pool recovers as soon as the server accepts again: backoff is capped at 500ms', async () => {
  const { engine, factory, clock } = fakeEngine({ acquireTimeoutMillis: 0 })
  factory.failures.push(...Array.from({ length: 6 }, () => new Error('refused')))
  const waiting = engine.acquire(undefined)
  // Backoffs 25, 50, 100, 200, 400, 500: the seventh attempt (at 1275ms) succeeds.
  await clock.advance(1274)
  assert.is(engine.activeCount, 0)
  await clock.advance(1)
  assert.is((await waiting).state, 'busy')
})

test('refilling minSize with nobody waiting backs off up to 30 s; a caller that comes brings the retry within 500 ms', async () => {
  const { engine, factory, clock, events, counts } = fakeEngine({ minSize: 1, acquireTimeoutMillis: 0 })
  // A server that is full: every attempt refused, for as long as the test runs.
  factory.failures.push(...Array.from({ length: 100 }, () => new Error('sorry, too many clients already')))
  await engine.warmup().catch(() => undefined)
  // Backoffs 25, 50, ..., 12,800, then 25,600 and 30,000 from there: 12 attempts in the first minute, not 120.
  await clock.advance(60_000)
  assert.is(events.error?.length, 12)
  await clock.advance(60_000)
  assert.is(events.error?.length, 14, 'every 30 s from then on')
  factory.failures.length = 0
  const waiting = engine.acquire(undefined)
  await clock.advance(499)
  assert.is(engine.activeCount, 0, 'still backing off')
  await clock.advance(1)
  assert.is((await waiting).state, 'busy')
  assert.equal(counts().total, 1)
})

test("a warm-up's failing check of an idle connection leaves no waiter beside another idle one: warm-up checks promise nobody", async () => {
  const { engine, factory, clock, counts } = fakeEngine({ maxSize: 2 })
  const first = await engine.acquire(undefined)
  const second = await engine.acquire(undefined)
  engine.release(second)
  const check = deferred<boolean>()
  factory.validate = () => check.promise // the warm-up's check of the idle one, held
  const warming = engine.warmup({ connections: 1 }).catch(() => 'failed')
  const waiting = engine.acquire(undefined)
  engine.release(first) // idle now: the waiter's
  await clock.advance(0)
  check.resolve(false)
  await warming
  const lease = await Promise.race([waiting, clock.advance(1000).then(() => undefined)])
  assert.ok(lease !== undefined, 'served at once, not at its timeout')
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 })
})

test("a caller that came during a warm-up whose connection attempt failed gets the retry it would have had from its own attempt", async () => {
  const { engine, factory, clock, counts } = fakeEngine({ acquireTimeoutMillis: 0 })
  factory.auto = false
  const warming = engine.warmup({ connections: 1 }).catch((error: Error) => error.name)
  const waiting = engine.acquire(undefined) // no attempt of its own: the warm-up's covers it
  await clock.advance(0)
  assert.is(factory.pending.length, 1)
  factory.failNext(new Error('connect ECONNREFUSED')) // the server still starting
  assert.is(await warming, 'PoolWarmupError')
  factory.auto = true
  await clock.advance(25) // the first backoff
  const lease = await Promise.race([waiting, clock.advance(1000).then(() => undefined)])
  assert.ok(lease !== undefined, 'served after the backoff, not left waiting with no attempt for it')
  engine.release(lease)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
})

test("a caller that came during a warm-up whose connection attempt met a permanent error fails at once with it", async () => {
  const { engine, factory, clock } = fakeEngine({ acquireTimeoutMillis: 0 })
  const denied = new Error('password authentication failed')
  factory.permanent.add(denied)
  factory.auto = false
  const warming = engine.warmup({ connections: 1 }).catch((error: Error) => error.name)
  const waiting = engine.acquire(undefined).then(() => 'served', (error: Error) => error.message)
  await clock.advance(0)
  factory.failNext(denied)
  assert.is(await warming, 'PoolWarmupError')
  assert.is(await Promise.race([waiting, clock.advance(1000).then(() => 'still waiting')]), 'password authentication failed')
})

test('a validation that throws rather than rejects fails that connection, and the counts stay right', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ validateAfterIdleMillis: 0 })
  engine.release(await engine.acquire(undefined))
  await clock.advance(1)
  factory.validate = () => {
    throw new Error('validate threw')
  }
  const waiting = engine.acquire(undefined)
  await clock.advance(0) // the dispatch checks the idle one
  factory.validate = () => Promise.resolve(true)
  const lease = await waiting // the broken one closed, a new one opened
  assert.ok(lease.connection.destroyed === false)
  engine.release(lease)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
})

test('with no connect limit, a check that never answers gives up after 10 s: a full pool serves its waiter with a new connection', async () => {
  // pg.Pool's default: no limit on connecting or on waiting. Its only connection's path went silent while idle.
  const { engine, factory, clock, events } = fakeEngine({ maxSize: 1, validateAfterIdleMillis: 0, connectTimeoutMillis: 0, acquireTimeoutMillis: 0 })
  const first = await engine.acquire(undefined)
  engine.release(first)
  await clock.advance(1)
  factory.validate = () => new Promise<boolean>(() => undefined)
  let served: { connection: unknown } | undefined
  const waiting = engine.acquire(undefined).then((lease) => (served = lease))
  // Past the 1 s cover the pool would open another connection for it, but the one being checked fills it.
  await clock.advance(9_990)
  assert.is(served, undefined)
  // Before, it waited until TCP gave up (minutes): the check had no limit.
  await clock.advance(20)
  const lease = await Promise.race([waiting, clock.advance(0).then(() => undefined)])
  assert.ok(lease, 'served')
  assert.is.not(lease.connection, first.connection)
  assert.equal(events.error?.map((e) => e.error.message), ['Validation timed out after 10000ms.'])
  engine.release(lease as never)
})

test("a timeout listener that queries the pool leaves the queue one timer, none once it is empty", async () => {
  const { engine, monitor, clock, factory } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const held = await engine.acquire(undefined)
  factory.auto = false
  let diagnostics: Promise<unknown> | undefined
  // A diagnostic query from inside the timeout event: it waits in the same queue.
  monitor.events.on('timeout', () => void (diagnostics ??= engine.acquire(undefined).catch(() => undefined)))
  const first = engine.acquire(undefined).catch(() => undefined)
  await clock.advance(50)
  const second = engine.acquire(undefined).catch(() => undefined)
  await clock.advance(50) // the first times out; the listener queues its query
  assert.is(engine.waitingCount, 2)
  // One timer serves the queue. Before, the listener's push armed one and the expiry armed another over it,
  // which nothing cleared: not a background timer, it could hold the process after close().
  assert.is(clock.pendingTimers, 1, `${clock.pendingTimers} timers for one queue`)
  await clock.advance(100) // the second and the listener's time out
  await Promise.all([first, second, diagnostics])
  assert.is(engine.waitingCount, 0)
  assert.is(clock.pendingTimers, 0, `${clock.pendingTimers} timer(s) left`)
  engine.release(held)
})

test('close() that times out takes back a connection whose check never answers, and leaves nothing pending', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ validateAfterIdleMillis: 0, connectTimeoutMillis: 0, acquireTimeoutMillis: 0 })
  engine.release(await engine.acquire(undefined))
  await clock.advance(1)
  factory.validate = () => new Promise<boolean>(() => undefined) // a server that never answers SELECT 1
  const waiting = engine.acquire(undefined).catch((error: { code?: string }) => error.code)
  await clock.advance(0)
  const closing = engine.close({ timeoutMillis: 100 })
  await clock.advance(100)
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.is(factory.destroyed.length, 1, 'its connection was closed')
  assert.is(await waiting, 'ERR_POOL_CLOSED')
})

test('a permanent failure fails the waiter it was made for at once; the others are not failed by it', async () => {
  const { engine, factory, counts } = fakeEngine({ maxSize: 2 })
  factory.auto = false
  const denied = new Error('password authentication failed')
  factory.permanent.add(denied)
  const first = engine.acquire(undefined)
  const second = engine.acquire(undefined)
  assert.is(factory.pending.length, 2)
  factory.failNext(denied)
  const error = await rejects(first, Error)
  assert.is(error.message, 'password authentication failed')
  assert.is(engine.waitingCount, 1)
  factory.openNext()
  engine.release(await second)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
})

test('after a permanent failure every other waiter gets an attempt of its own: each fails as fast, or is served once the cause is gone', async () => {
  const { engine, factory, counts } = fakeEngine({ maxSize: 1, minSize: 1, acquireTimeoutMillis: 10_000 })
  factory.auto = false
  const denied = new Error('database "shop" does not exist')
  factory.permanent.add(denied)
  const waiting = [engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)].map((p) => p.then(() => 'served', (e: Error) => e.message))
  assert.is(factory.pending.length, 1, 'one attempt at a time: maxSize 1')
  factory.failNext(denied)
  await Promise.resolve()
  assert.is(factory.pending.length, 1, 'the next waiter has an attempt at once, not at its timeout')
  factory.failNext(denied)
  await Promise.resolve()
  // The database exists now: the last waiter is served.
  factory.openNext()
  assert.equal(await Promise.all(waiting), ['database "shop" does not exist', 'database "shop" does not exist', 'served'])
  assert.is(factory.pending.length, 0, 'nothing left to open')
  assert.equal(counts().waiting, 0)
})

test('a caller that starts waiting during the back-off of a minSize refill keeps the process alive until it is answered', async () => {
  // pg.Pool style, no acquire timeout: nothing but the retry stands between the caller and its answer.
  const { engine, factory, clock } = fakeEngine({ minSize: 2, retryCreate: false, acquireTimeoutMillis: 0 })
  factory.failures.push(...Array.from({ length: 10 }, () => new Error('connect ECONNREFUSED')))
  await engine.warmup().catch(() => undefined)
  assert.is(clock.foregroundTimers, 0, 'refilling minSize alone does not hold the process')
  const waiting = engine.acquire(undefined).then(() => undefined, (error: Error) => error.message)
  await clock.advance(0)
  assert.is(clock.foregroundTimers, 1, 'the retry the caller waits for holds it: a script exits only once answered')
  await clock.advance(50)
  assert.is(await waiting, 'connect ECONNREFUSED')
})

test('without retries (pg.Pool style) each failed attempt fails one waiter with its error', async () => {
  const { engine, factory } = fakeEngine({ retryCreate: false })
  factory.failures.push(new Error('connect ECONNREFUSED'))
  const error = await rejects(engine.acquire(undefined), Error)
  assert.is(error.message, 'connect ECONNREFUSED')
  assert.is(engine.waitingCount, 0)
})

test('an idle connection that breaks leaves the pool at once and is never handed out', async () => {
  const { engine, factory, events, counts } = fakeEngine()
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  engine.release(b!)
  factory.breakConnection(b!.connection)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  assert.equal(events.error?.map((e) => e.source), ['idle-connection'])
  await Promise.resolve()
  assert.equal(events.disconnect?.map((e) => [e.connectionId, e.reason]), [[b!.connection.id, 'error']])
  assert.is(engine.tryAcquire(undefined), a)
})

test('a checked-out connection that breaks is reported once and closed on release', async () => {
  const { engine, factory, events, counts } = fakeEngine()
  const lease = await engine.acquire(undefined)
  factory.breakConnection(lease.connection)
  factory.breakConnection(lease.connection, new Error('and again'))
  assert.is(events.error?.length, 1)
  engine.release(lease)
  await Promise.resolve()
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['error'])
})

test('a connection released and broken in the same turn is not handed to the waiter', async () => {
  const { engine, factory } = fakeEngine({ maxSize: 1 })
  const lease = await engine.acquire(undefined)
  const waiting = engine.acquire(undefined)
  // A restart delivers the last result and the shutdown notice in one read: release, then break.
  engine.release(lease)
  factory.breakConnection(lease.connection)
  const next = await waiting
  assert.is.not(next.connection, lease.connection)
  assert.ok(lease.connection.destroyed)
  assert.not.ok(next.connection.broken)
})

test('isBroken is checked on release and before an idle connection is handed out', async () => {
  const { engine, events } = fakeEngine()
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  a!.connection.broken = true // the driver marked it without an event
  engine.release(a!)
  engine.release(b!)
  b!.connection.broken = true
  const next = await engine.acquire(undefined)
  assert.not.ok(next.connection.broken)
  assert.equal(events.disconnect?.map((e) => e.reason), ['error', 'error'])
})

test('a connection idle longer than validateAfterIdleMillis is validated first; a failing one is replaced', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ validateAfterIdleMillis: 5000, idleTimeoutMillis: 0 })
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  engine.release(b!)
  assert.is(engine.tryAcquire(undefined), b, 'fresh enough: no validation')
  engine.release(b!)
  await clock.advance(5000)
  assert.is(engine.tryAcquire(undefined), undefined, 'the fast path does not validate')
  factory.validations.push(false)
  const next = await engine.acquire(undefined)
  assert.is(b!.connection.validations, 1)
  assert.ok(b!.connection.destroyed, 'failed validation: closed')
  assert.is(next, a, 'the next idle one passed')
  assert.is(a!.connection.validations, 1)
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 })
})

test('a validation unanswered for a second (a connection a NAT dropped while idle) no longer keeps its waiter from a new connection', async () => {
  const { engine, factory, clock } = fakeEngine({ maxSize: 3, validateAfterIdleMillis: 5000, idleTimeoutMillis: 0, acquireTimeoutMillis: 10_000, connectTimeoutMillis: 10_000 })
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  engine.release(b!)
  await clock.advance(30_000)
  // Both idle connections lost their path without a reset: a check sent on either is never answered.
  factory.validate = () => new Promise<boolean>(() => undefined)
  const waiting = engine.acquire(undefined)
  await clock.advance(999)
  assert.is(factory.created.length, 2, 'the check covers the waiter for its first second')
  await clock.advance(1)
  // Before: nothing was opened, and the waiter timed out after 10 s beside 1 free slot.
  const lease = await waiting
  assert.is(lease.connection, factory.created[2])
  engine.release(lease)
})

test('a connection released while a validation covers the only waiter is handed to it at once', async () => {
  const { engine, factory, clock } = fakeEngine({ maxSize: 2, validateAfterIdleMillis: 5000, idleTimeoutMillis: 0, acquireTimeoutMillis: 10_000, connectTimeoutMillis: 10_000 })
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  engine.release(a!)
  await clock.advance(6000)
  factory.validate = () => new Promise<boolean>(() => undefined)
  const waiting = engine.acquire(undefined)
  await clock.advance(0)
  assert.is(engine.pendingCount, 1, 'the idle one is being checked for the waiter')
  engine.release(b!)
  await clock.advance(0)
  // Before: it sat idle until the check ended (its timeout, as long as the waiter's).
  assert.is(await waiting, b)
  assert.is(factory.created.length, 2)
  engine.release(b!)
})

test.run()
