import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError } from '../src/index.js'
import { fakeEngine, type FakeConnection } from './_helpers/fake-factory.js'
import { throwsError } from '@lifeguard/test-kit'

const test = suite('PoolEngine: connections a shrink keeps open (keepSurplusMillis)')

/** An engine of 4 that shrank to 2 while all four were checked out; returns the two still held. */
async function shrunkWithTwoParked(keepSurplusMillis: number, options: Parameters<typeof fakeEngine>[0] = {}) {
  const pool = fakeEngine({ maxSize: 4, ...options })
  const { engine } = pool
  const leases = await Promise.all([1, 2, 3, 4].map(() => engine.acquire(undefined)))
  engine.release(leases[0]!)
  engine.resize({ maxSize: 2 }, { reason: 'load', keepSurplusMillis })
  engine.release(leases[1]!)
  const parked = [leases[0]!.connection, leases[1]!.connection]
  return { ...pool, held: [leases[2]!, leases[3]!], parked }
}

type Engine = ReturnType<typeof fakeEngine>['engine']
type Lease = Awaited<ReturnType<Engine['acquire']>>

// Gives back what is still held; everything the fake driver opened is closed once the pool is.
async function assertAllClosed(engine: Engine, created: readonly FakeConnection[], held: readonly Lease[] = []): Promise<void> {
  for (const lease of held) engine.release(lease)
  await engine.close()
  assert.ok(created.every((c) => c.destroyed), 'every connection closed with the pool')
}

test('a shrink parks the idle and released connections above maxSize; a grow reuses them and opens none', async () => {
  const { engine, factory, events, counts, held, parked } = await shrunkWithTwoParked(5000)
  assert.equal(counts(), { total: 2, active: 2, idle: 0, pending: 0, waiting: 0 }, 'parked ones are not in the counts')
  assert.is(engine.liveState().parkedConnections, 2)
  assert.equal(factory.destroyed, [], 'nothing closed')
  engine.resize({ maxSize: 4 }, { keepSurplusMillis: 5000 })
  const again = await Promise.all([engine.acquire(undefined), engine.acquire(undefined)])
  assert.equal(new Set(again.map((lease) => lease.connection)), new Set(parked), 'the parked connections came back')
  assert.is(factory.created.length, 4, 'none opened')
  assert.is(events.connect?.length, 4)
  assert.is(engine.liveState().parkedConnections, 0)
  for (const lease of [...held, ...again]) engine.release(lease)
  assert.equal(counts(), { total: 4, active: 0, idle: 4, pending: 0, waiting: 0 })
  await assertAllClosed(engine, factory.created)
})

test('a parked connection closes with reason resize when its time is up', async () => {
  const { engine, factory, clock, events, held, parked } = await shrunkWithTwoParked(1000)
  await clock.advance(999)
  assert.is(engine.liveState().parkedConnections, 2)
  await clock.advance(1)
  assert.is(engine.liveState().parkedConnections, 0)
  assert.equal(new Set(factory.destroyed), new Set(parked))
  assert.equal(events.disconnect?.map((e) => e.reason), ['resize', 'resize'])
  await assertAllClosed(engine, factory.created, held)
})

test('a parked connection closes at its lifetime when that comes first', async () => {
  const { engine, factory, clock, events, held } = await shrunkWithTwoParked(5000, { maxLifetimeMillis: 3000 })
  await clock.advance(2999)
  assert.is(engine.liveState().parkedConnections, 2)
  await clock.advance(1)
  assert.is(engine.liveState().parkedConnections, 0)
  assert.equal(events.disconnect?.map((e) => e.reason), ['lifetime', 'lifetime'])
  await assertAllClosed(engine, factory.created, held)
})

test('warmup() takes parked connections back before it opens any', async () => {
  const { engine, factory, held, parked } = await shrunkWithTwoParked(5000)
  engine.resize({ maxSize: 4 }, { keepSurplusMillis: 5000 })
  const report = await engine.warmup({ connections: 2 })
  assert.equal([report.opened, report.failed], [2, 0])
  assert.is(factory.created.length, 4, 'none opened')
  assert.ok(parked.every((c) => c.validations === 1), 'validated as warm-up validates idle connections')
  assert.is(engine.liveState().parkedConnections, 0)
  await assertAllClosed(engine, factory.created, held)
})

test('a resize without keepSurplusMillis takes back the parked connections it has room for and closes the rest', async () => {
  const { engine, factory, clock, counts, events, held, parked } = await shrunkWithTwoParked(5000)
  engine.resize({ maxSize: 3 })
  assert.equal(counts(), { total: 3, active: 2, idle: 1, pending: 0, waiting: 0 })
  assert.is(engine.liveState().parkedConnections, 0)
  assert.is(factory.destroyed.length, 1)
  assert.ok(parked.includes(factory.destroyed[0]!))
  await clock.advance(0)
  assert.equal(events.disconnect?.map((e) => e.reason), ['resize'])
  assert.is(factory.created.length, 4)
  await assertAllClosed(engine, factory.created, held)
})

test('a shrink without keepSurplusMillis closes at once, as before', async () => {
  const { engine, factory, counts, held } = await shrunkWithTwoParked(0)
  assert.equal(counts(), { total: 2, active: 2, idle: 0, pending: 0, waiting: 0 })
  assert.is(engine.liveState().parkedConnections, 0)
  assert.is(factory.destroyed.length, 2)
  await assertAllClosed(engine, factory.created, held)
})

test('a parked connection that breaks closes at once; softEvict() and close() close the others', async () => {
  const { engine, factory, events, held, parked } = await shrunkWithTwoParked(5000)
  factory.breakConnection(parked[0]!)
  assert.is(engine.liveState().parkedConnections, 1)
  assert.equal(factory.destroyed, [parked[0]])
  assert.equal(events.error?.map((e) => e.source), ['idle-connection'])
  assert.equal(engine.softEvict(), { closed: 1, closingOnRelease: 2 })
  assert.is(engine.liveState().parkedConnections, 0)
  const other = await shrunkWithTwoParked(5000)
  const closing = other.engine.close()
  assert.ok(other.parked.every((c) => c.destroyed), 'close() closed the parked ones at once')
  for (const lease of other.held) other.engine.release(lease)
  await closing
  assert.ok(other.factory.created.every((c) => c.destroyed))
  await assertAllClosed(engine, factory.created, held)
})

test('a connection parked past validateAfterIdleMillis is validated before it is handed out', async () => {
  const { engine, factory, clock, held, parked } = await shrunkWithTwoParked(5000, { validateAfterIdleMillis: 100 })
  await clock.advance(200)
  engine.resize({ maxSize: 3 }, { keepSurplusMillis: 5000 })
  const lease = await engine.acquire(undefined)
  assert.ok(parked.includes(lease.connection))
  assert.is(lease.connection.validations, 1)
  assert.is(factory.created.length, 4)
  await assertAllClosed(engine, factory.created, [lease, ...held])
})

test('a waiter gets a parked connection while the pool backs off after a failed connection attempt', async () => {
  const { engine, factory, clock } = fakeEngine({ maxSize: 3 })
  const [a, b, c] = await Promise.all([engine.acquire(undefined), engine.acquire(undefined), engine.acquire(undefined)])
  factory.failures.push(new Error('refused'))
  engine.resize({ maxSize: 4 })
  const waiting = engine.acquire(undefined)
  await clock.advance(0)
  assert.is(engine.waitingCount, 1, 'the attempt failed: the pool backs off before the next')
  engine.resize({ maxSize: 2 }, { keepSurplusMillis: 5000 })
  engine.release(a!)
  assert.is(engine.liveState().parkedConnections, 1)
  engine.resize({ maxSize: 3 }, { keepSurplusMillis: 5000 })
  await clock.advance(0)
  assert.is(engine.waitingCount, 0, 'served before the back-off ends')
  const lease = await waiting
  assert.is(lease.connection, a!.connection)
  assert.is(factory.created.length, 3)
  await assertAllClosed(engine, factory.created, [lease, b!, c!])
})

test('resize refuses a bad keepSurplusMillis with InvalidOptionError naming it', () => {
  const { engine } = fakeEngine()
  const error = throwsError(() => engine.resize({ maxSize: 1 }, { keepSurplusMillis: -1 }), InvalidOptionError)
  assert.is(error.option, 'keepSurplusMillis')
  assert.match(error.message, /between 0 and 2147483647/)
  assert.is(engine.maxSize, 3, 'nothing changed')
})

test.run()
