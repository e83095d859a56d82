import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, PoolClosedError, PoolWarmupError } from '../src/index.js'
import { isPending } from './_helpers/async.js'
import { fakeEngine } from './_helpers/fake-factory.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

const test = suite('PoolEngine lifecycle: warm-up, minSize, resize, close')

test('warmup opens minSize connections, validates each and keeps them idle', async () => {
  const { engine, factory, counts } = fakeEngine({ minSize: 2 })
  const report = await engine.warmup()
  assert.equal({ ...report, durationMillis: 0 }, { pool: 'fake', requested: 2, opened: 2, failed: 0, durationMillis: 0 })
  assert.equal(factory.created.map((c) => c.validations), [1, 1])
  assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 0 })
  assert.is(engine.state, 'ready')
  const again = await engine.warmup({ connections: 3 })
  assert.is(again.opened, 3, 'the two idle ones are validated again and one more opens')
  assert.is(factory.created.length, 3)
})

test('a warm-up that asked for fewer than minSize, and opened them all, is followed by the rest at once, not after a back-off', async () => {
  const { engine, clock, counts } = fakeEngine({ minSize: 3 })
  await engine.warmup({ connections: 1 })
  // Before, the rest waited out a retry's back-off (25 ms, doubling), as after a failed attempt.
  await clock.advance(0)
  assert.equal(counts(), { total: 3, active: 0, idle: 3, pending: 0, waiting: 0 })
})

test('warmup reports partial failures and fails with PoolWarmupError when none opened', async () => {
  const { engine, factory } = fakeEngine()
  factory.failures.push(new Error('refused'))
  const partial = await engine.warmup({ connections: 2 })
  assert.equal([partial.opened, partial.failed], [1, 1])
  const { engine: other, factory: otherFactory } = fakeEngine()
  otherFactory.failures.push(new Error('refused'), new Error('refused'))
  const error = await rejects(other.warmup({ connections: 2 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  assert.is(error.message, "Could not warm up pool 'fake' (fake://db). None of 2 connection(s) could be opened: refused.")
  assert.is(other.state, 'created')
})

test('a warm-up that close() cut short rejects with PoolClosedError, however far its attempts had got', async () => {
  const { engine, factory, clock } = fakeEngine({ minSize: 2 })
  factory.auto = false
  // Both attempts still connecting (a server that accepts and never answers): close() abandons them.
  const warming = rejects(engine.warmup(), PoolClosedError, 'ERR_POOL_CLOSED')
  assert.is(factory.pending.length, 2)
  const closing = engine.close({ timeoutMillis: 10 })
  await clock.advance(10)
  const error = await warming
  assert.is(error.message, "Could not warm up pool 'fake'. The pool is closed.")
  for (const attempt of factory.pending.splice(0)) attempt.result.reject(new Error('abandoned'))
  await closing
})

test('a warm-up whose validation close() gave up on rejects with PoolClosedError, and leaves no timer', async () => {
  const { engine, factory, clock, events, counts } = fakeEngine({ minSize: 1 })
  // Logged in, then silent (a proxy that queues the check, a stuck server): the check never answers.
  factory.validate = () => new Promise<boolean>(() => undefined)
  const warming = rejects(engine.warmup({ timeoutMillis: 60_000 }), PoolClosedError, 'ERR_POOL_CLOSED')
  await clock.advance(0)
  assert.is(engine.pendingCount, 1, 'validating')
  const closing = engine.close({ timeoutMillis: 10 })
  await clock.advance(10)
  // Before, neither answer of the check ever came: the warm-up (and a registry's `ready`) never settled.
  assert.not.ok(await isPending(warming), 'settled when close() gave up on it')
  assert.is((await warming).message, "Could not warm up pool 'fake'. The pool is closed.")
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed'])
  assert.is(clock.pendingTimers, 0, "the check's 60 s timer went with it")
})

test('a validation close() gave up on that answers late changes nothing: one disconnect, no error, nothing pending', async () => {
  const { engine, factory, clock, events, counts } = fakeEngine({ minSize: 1 })
  let answer: (valid: boolean) => void = () => undefined
  factory.validate = () => new Promise<boolean>((resolve) => (answer = resolve))
  const warming = rejects(engine.warmup({ timeoutMillis: 60_000 }), PoolClosedError)
  await clock.advance(0)
  const closing = engine.close({ timeoutMillis: 10 })
  await clock.advance(10)
  await warming
  await closing
  answer(false)
  await clock.advance(0)
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed'])
  assert.is(events.error, undefined)
})

test("warmup's timeoutMillis bounds connect and validation together, and its timeout names that option", async () => {
  const { engine, factory, clock, events } = fakeEngine({ connectTimeoutMillis: 500 })
  factory.auto = false
  // A validation that never answers (a server that logs in and then goes silent).
  factory.validate = () => new Promise<boolean>(() => undefined)
  const warming = rejects(engine.warmup({ connections: 1, timeoutMillis: 450 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  await clock.advance(300)
  factory.openNext()
  await clock.advance(149)
  assert.ok(await isPending(warming), 'the connect used 300 of the 450 ms')
  await clock.advance(1)
  assert.not.ok(await isPending(warming), 'the whole warm-up took 450 ms')
  const error = await warming
  assert.match(error.message, 'Connection attempt and validation took longer than 450ms (timeoutMillis of warmup()).')
  assert.equal(engine.totalCount, 0)
  assert.equal(events.disconnect?.map((e) => e.reason), ['error'])
})

test("a warm-up connect that outlasts warmup's timeoutMillis names that option, not connectTimeoutMillis", async () => {
  const { engine, factory, clock } = fakeEngine({ connectTimeoutMillis: 500 })
  factory.auto = false
  const warming = rejects(engine.warmup({ connections: 1, timeoutMillis: 100 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  await clock.advance(100)
  const error = await warming
  assert.is(error.message, "Could not warm up pool 'fake' (fake://db). None of 1 connection(s) could be opened: Connection attempt timed out after 100ms (timeoutMillis of warmup()).")
  assert.not.match(error.message, 'connectTimeoutMillis')
})

test('warmup and resize refuse bad input with InvalidOptionError naming the option', async () => {
  const { engine } = fakeEngine()
  const tooMany = await rejects(engine.warmup({ connections: 4 }), InvalidOptionError)
  assert.is(tooMany.option, 'connections')
  const huge = await rejects(engine.warmup({ timeoutMillis: 2 ** 32 }), InvalidOptionError)
  assert.is(huge.option, 'timeoutMillis')
  assert.is(throwsError(() => engine.resize(undefined as never), InvalidOptionError).option, 'size')
  assert.is(throwsError(() => engine.resize({ maxSize: 0 }), InvalidOptionError).option, 'maxSize')
  assert.is(throwsError(() => engine.resize({ minSize: 5 }), InvalidOptionError).option, 'minSize')
})

test('once in use, the pool refills to minSize after losing connections', async () => {
  const { engine, factory, counts } = fakeEngine({ minSize: 2 })
  await engine.warmup()
  const [a] = factory.created
  factory.breakConnection(a!)
  await Promise.resolve()
  assert.equal(counts(), { total: 2, active: 0, idle: 2, pending: 0, waiting: 0 })
  assert.is(factory.created.length, 3)
})

test('growing serves waiters at once; shrinking closes idle ones at once and busy ones on release', async () => {
  const { engine, events, counts } = fakeEngine({ maxSize: 2 })
  const [a, b] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  const waiting = engine.acquire(undefined)
  engine.resize({ maxSize: 4 }, { reason: 'load', details: { utilization: 90 } })
  const c = await waiting
  const d = await engine.acquire(undefined)
  assert.equal(counts(), { total: 4, active: 4, idle: 0, pending: 0, waiting: 0 })
  engine.release(a)
  engine.release(b)
  engine.resize({ maxSize: 1 })
  assert.equal(counts(), { total: 2, active: 2, idle: 0, pending: 0, waiting: 0 }, 'both idle ones closed')
  engine.release(c)
  assert.equal(counts(), { total: 1, active: 1, idle: 0, pending: 0, waiting: 0 }, 'c closed on release')
  engine.release(d)
  assert.equal(counts(), { total: 1, active: 0, idle: 1, pending: 0, waiting: 0 })
  await Promise.resolve()
  assert.equal(events.disconnect?.map((e) => e.reason), ['resize', 'resize', 'resize'])
  assert.equal(events.resize?.map((e) => [e.previous.maxSize, e.next.maxSize, e.reason]), [[2, 4, 'load'], [4, 1, 'manual']])
  engine.resize({ maxSize: 1 })
  assert.is(events.resize?.length, 2, 'no change, no event')
})

test('a shrink holds for connections that were still opening: they serve no waiter above the new maxSize', async () => {
  const { engine, factory, counts, events } = fakeEngine({ maxSize: 4 })
  factory.auto = false
  const settled: number[] = []
  const waiters = [0, 1, 2, 3].map((i) => engine.acquire(undefined).then((lease) => (settled.push(i), lease)))
  await Promise.resolve()
  assert.is(factory.pending.length, 4, 'four connections opening for four waiters')
  engine.resize({ maxSize: 2 })
  for (let i = 0; i < 4; i++) factory.openNext()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(settled, [0, 1], 'two served, two wait for a release')
  assert.equal(counts(), { total: 2, active: 2, idle: 0, pending: 0, waiting: 2 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['resize', 'resize'])
  const [first, second] = await Promise.all(waiters.slice(0, 2))
  engine.release(first!)
  engine.release(second!)
  const [third, fourth] = await Promise.all(waiters.slice(2))
  assert.equal(counts(), { total: 2, active: 2, idle: 0, pending: 0, waiting: 0 })
  engine.release(third!)
  engine.release(fourth!)
})

test('connections closed by a shrink count as closing until the driver has closed them', async () => {
  const { engine, factory } = fakeEngine({ maxSize: 3 })
  const leases = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  factory.holdCloses = true
  engine.resize({ maxSize: 1 })
  for (const lease of leases) engine.release(lease)
  const live = engine.liveState()
  assert.equal([live.totalConnections, live.idleConnections, live.closingConnections], [1, 1, 2], 'two left the pool and are still closing')
  factory.finishCloses()
  await Promise.resolve()
  await Promise.resolve()
  assert.is(engine.liveState().closingConnections, 0)
})

test('close: waiters served by connections being opened get them, the others PoolClosedError; busy ones may finish', async () => {
  const { engine, factory, counts, events } = fakeEngine({ maxSize: 2 })
  const holder = await engine.acquire(undefined)
  factory.auto = false
  const opening = engine.acquire(undefined)
  const refused = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  const closing = engine.close()
  assert.is(engine.state, 'closing')
  await refused
  await rejects(engine.acquire(undefined), PoolClosedError)
  factory.openNext()
  const served = await opening
  engine.release(served)
  engine.release(holder)
  await closing
  assert.is(engine.state, 'closed')
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed', 'closed'])
  assert.is(engine.close(), closing, 'idempotent')
})

test('close during a back-off (the server is down) refuses the waiters at once and tries no new connection', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ maxSize: 4, acquireTimeoutMillis: 0 })
  factory.failures.push(...Array.from({ length: 10 }, (_, i) => new Error(`refused ${i + 1}`)))
  const waiters = [engine.acquire(undefined), engine.acquire(undefined)].map((waiting) => rejects(waiting, PoolClosedError, 'ERR_POOL_CLOSED'))
  await clock.advance(0)
  const failed = factory.failures.length
  assert.ok(failed < 10, 'an attempt failed and a retry waits')
  const closing = engine.close({ timeoutMillis: 10_000 })
  await Promise.all(waiters)
  await closing
  assert.is(factory.failures.length, failed, 'no attempt after close()')
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
})

test('close during a back-off opens nothing for a waiter whose check of an idle connection hangs, also past its cover', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ maxSize: 4, validateAfterIdleMillis: 5000, idleTimeoutMillis: 0, acquireTimeoutMillis: 0, connectTimeoutMillis: 10_000 })
  engine.release(await engine.acquire(undefined))
  await clock.advance(6000)
  // The idle connection's path went silent, and the server refuses new connections (a failover).
  factory.validate = () => new Promise<boolean>(() => undefined)
  factory.failures.push(...Array.from({ length: 10 }, (_, i) => new Error(`refused ${i + 1}`)))
  const waiting = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  await clock.advance(999)
  assert.is(factory.failures.length, 10, 'the check covers the waiter for a second')
  await clock.advance(1)
  const failed = factory.failures.length
  assert.is(failed, 9, 'past the check`s cover, one attempt beside it, refused; a retry waits')
  const closing = engine.close({ timeoutMillis: 100 })
  await clock.advance(1000)
  await waiting
  await closing
  assert.is(factory.failures.length, failed, 'no attempt after close()')
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
})

test('close during a back-off ends when a failed check leaves its waiter nothing, not at the drain`s timeout', async () => {
  const { engine, factory, clock, counts } = fakeEngine({ maxSize: 4, validateAfterIdleMillis: 5000, idleTimeoutMillis: 0, acquireTimeoutMillis: 0, connectTimeoutMillis: 10_000 })
  engine.release(await engine.acquire(undefined))
  await clock.advance(6000)
  // The server refuses new connections (a failover), and the idle connection's check is under way.
  let failCheck: (error: Error) => void = () => undefined
  factory.validate = () => new Promise<boolean>((_, reject) => (failCheck = reject))
  factory.failures.push(...Array.from({ length: 10 }, (_, i) => new Error(`refused ${i + 1}`)))
  const waiting = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  await clock.advance(1000)
  assert.is(factory.failures.length, 9, 'past the check`s cover, one attempt beside it, refused; a retry waits')
  const closing = engine.close({ timeoutMillis: 10_000 })
  assert.is(engine.waitingCount, 1, 'kept: the check under way may serve it')
  failCheck(new Error('connection reset'))
  await waiting
  await clock.advance(0)
  // Before, nothing woke the drain: close() (and pg's end(), which waits without limit) waited out its timeout.
  assert.not.ok(await isPending(closing), 'closed once the refused waiter was the last thing it waited for')
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
})

// A pool of two, both idle past their check: one breaks, and its refill is held open (the server is slow to answer).
async function oneBrokenOneStale() {
  const pool = fakeEngine({ minSize: 2, maxSize: 2, validateAfterIdleMillis: 5000, idleTimeoutMillis: 0, acquireTimeoutMillis: 0 })
  await pool.engine.warmup()
  await pool.clock.advance(6000)
  pool.factory.auto = false
  pool.factory.breakConnection(pool.factory.created[0]!, new Error('terminated'))
  await pool.clock.advance(0)
  assert.is(pool.factory.pending.length, 1, 'a refill is opening')
  return pool
}

test('close: a failed attempt does not refuse a waiter that a check under way still covers; the check serves it', async () => {
  // The other connection is checked before it is handed over.
  const { engine, factory, clock, counts } = await oneBrokenOneStale()
  let passCheck: (valid: boolean) => void = () => undefined
  factory.validate = () => new Promise<boolean>((resolve) => (passCheck = resolve))
  const waiting = engine.acquire(undefined).then(
    (lease) => ({ lease, error: undefined }),
    (error: Error) => ({ lease: undefined, error }),
  )
  const closing = engine.close({ timeoutMillis: 10_000 })
  assert.is(engine.waitingCount, 1, 'kept through close(): an attempt and a check are under way')
  // The refill is refused (too many clients): the check may still serve the waiter.
  factory.failNext(new Error('sorry, too many clients already'))
  await clock.advance(0)
  assert.is(engine.waitingCount, 1, 'still waiting for the check')
  passCheck(true)
  const served = await waiting
  // Before, it got the refill's error and the checked connection was closed unused.
  assert.is(served.error?.message, undefined, 'served by the check')
  engine.release(served.lease!)
  await clock.advance(0)
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
})

test('close: after a failed attempt, a waiter whose check then fails is refused, and no new attempt holds the close', async () => {
  const { engine, factory, clock, counts } = await oneBrokenOneStale()
  let failCheck: (error: Error) => void = () => undefined
  factory.validate = () => new Promise<boolean>((_, reject) => (failCheck = reject))
  const waiting = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  const closing = engine.close({ timeoutMillis: 10_000 })
  // The server refuses the refill, then the check fails too (it went down).
  factory.failNext(new Error('sorry, too many clients already'))
  await clock.advance(0)
  failCheck(new Error('connection reset'))
  await clock.advance(0)
  // Before, it got a new attempt, and the close waited on it (pg's end() without a limit).
  assert.is(factory.pending.length, 0, 'no attempt opened for it while closing')
  await waiting
  assert.not.ok(await isPending(closing), 'closed at once, not at its timeout')
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
})

test('close takes back what is still checked out after timeoutMillis; a late release is harmless', async () => {
  const { engine, clock, counts, events } = fakeEngine({ leakDetectionMillis: 5000 })
  const lease = await engine.acquire(undefined)
  const closing = engine.close({ timeoutMillis: 100 })
  await clock.advance(100)
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  engine.release(lease)
  await clock.advance(10_000)
  assert.equal(events.leak, undefined, 'the leak timer was cleared')
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed'])
})

test('a later close() with a shorter timeout shortens the wait of the one under way (pg.Pool end() waits for good)', async () => {
  const { engine, clock, counts } = fakeEngine()
  const lease = await engine.acquire(undefined)
  // What the drop-in Pool's end() asks: no limit. A shutdown after it asks for one.
  const ending = engine.close({ timeoutMillis: 2_147_483_647 })
  const closing = engine.close({ timeoutMillis: 100 })
  assert.is(closing, ending, 'one close, as before')
  await clock.advance(99)
  assert.is(counts().active, 1, 'not before the shorter timeout')
  await clock.advance(1)
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  // A longer one asked later changes nothing.
  engine.release(lease)
})

test('a later close() with a longer timeout does not lengthen the wait', async () => {
  const { engine, clock, counts } = fakeEngine()
  await engine.acquire(undefined)
  const closing = engine.close({ timeoutMillis: 100 })
  void engine.close({ timeoutMillis: 10_000 })
  await clock.advance(100)
  await closing
  assert.is(counts().total, 0)
})

test('close() right after a release hands that connection to the waiter it was for: none closed and opened again', async () => {
  const { engine, factory, clock, events } = fakeEngine({ maxSize: 1 })
  const holder = await engine.acquire()
  const waiting = engine.acquire()
  // The release hands the connection over on the next microtask; close() comes first.
  engine.release(holder)
  const closing = engine.close({ timeoutMillis: 1000 })
  const served = await waiting
  assert.is(served, holder, 'the same connection')
  // Before, close() closed it as idle and opened a new one for the waiter.
  assert.is(factory.created.length, 1)
  engine.release(served)
  await clock.advance(0)
  await closing
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed'])
})

test('close() right after a request that waits for an idle connection to validate: the waiter gets it', async () => {
  const { engine, factory, clock } = fakeEngine({ maxSize: 1, validateAfterIdleMillis: 100 })
  engine.release(await engine.acquire())
  await clock.advance(200)
  const waiting = engine.acquire()
  const closing = engine.close({ timeoutMillis: 1000 })
  const served = await waiting
  assert.is(factory.created.length, 1)
  assert.equal(factory.created.map((c) => c.validations), [1], 'validated for the waiter')
  engine.release(served)
  await clock.advance(0)
  await closing
})

test('a close that times out abandons attempts still connecting: settled before it resolves, and no connection error', async () => {
  const { engine, factory, clock, counts, events, monitor } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 5000 })
  factory.auto = false
  const waiter = rejects(engine.acquire(undefined), PoolClosedError, 'ERR_POOL_CLOSED')
  const closing = engine.close({ timeoutMillis: 100 })
  await clock.advance(100)
  await closing
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 }, 'the abandoned attempt is settled when close() resolves')
  await waiter
  assert.equal(events.error, undefined, "the pool's own close is no connection error")
  assert.is(monitor.counters(engine.liveState()).errors, 0)
})

test('close opens nothing to keep minSize: a warmed pool closes the connections it has and no more', async () => {
  const { engine, factory, counts, events } = fakeEngine({ minSize: 2 })
  await engine.warmup()
  await engine.close()
  assert.is(factory.created.length, 2, 'no connection opened during close')
  assert.equal(counts(), { total: 0, active: 0, idle: 0, pending: 0, waiting: 0 })
  assert.equal(events.disconnect?.map((e) => e.reason), ['closed', 'closed'])
  assert.is(engine.state, 'closed')
})

test('close refuses a bad timeout', async () => {
  const { engine } = fakeEngine()
  const error = await rejects(engine.close({ timeoutMillis: 2 ** 31 }), InvalidOptionError)
  assert.is(error.option, 'timeoutMillis')
  assert.is(engine.state, 'created')
})

test('leak detection reports a long checkout with its owner stack, then its release', async () => {
  const { engine, clock, events } = fakeEngine({ leakDetectionMillis: 1000 })
  const lease = await engine.acquire(undefined)
  await clock.advance(1000)
  assert.equal(events.leak?.map((e) => [e.state, e.heldMillis]), [['suspected', 1000]])
  assert.match(events.leak?.[0]?.stack ?? '', 'pool-engine.lifecycle.test.ts')
  await clock.advance(500)
  engine.release(lease)
  assert.equal(events.leak?.map((e) => [e.state, e.heldMillis]), [['suspected', 1000], ['resolved', 1500]])
})

test.run()
