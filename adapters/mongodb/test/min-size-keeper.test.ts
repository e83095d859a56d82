// The minSize keeper retries a refill that opened nothing with a growing delay, so a server that refuses new
// connections while its heartbeat connection stays up (at its connection limit, credentials rotated) is not
// asked for thousands of connections a second.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { MongoNetworkError } from 'mongodb'
import { MinSizeKeeper } from '../src/internal/min-size-keeper.js'
import type { MongoPool } from '../src/index.js'
import { ManualClock, flushPromises, rejects } from '@lifeguard/test-kit'
import { appNameOf, closeAll, faultTest, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

// The counts the keeper reads, moved by the test.
interface FakeTracker {
  total: number
  open: number
  busy: number
  /** Checkouts waiting inside the driver. */
  waiting: number
}

function keeperOn(tracker: FakeTracker, clock: ManualClock, minSize = 2): { keeper: MinSizeKeeper; pings: number[]; serverUp: (up: boolean) => void } {
  const pings: number[] = []
  let up = false
  let running = 0
  // As the driver does: a ping uses an idle connection if there is one, else opens one.
  const ping = async () => {
    pings.push(clock.now())
    running++
    await null
    try {
      if (!up) throw new Error('connection refused')
      if (running > tracker.open) {
        tracker.open++
        tracker.total++
      }
    } finally {
      running--
    }
  }
  const keeper = new MinSizeKeeper(() => tracker, ping, () => minSize, () => false, clock)
  return {
    keeper,
    pings,
    serverUp: (value) => {
      up = value
    },
  }
}

const Backoff = suite('MinSizeKeeper backoff')

Backoff('after a refill that opened nothing it retries with one ping, 50ms later, doubling up to 1s', async () => {
  const clock = new ManualClock(0)
  const tracker = { total: 0, open: 0, busy: 0, waiting: 0 }
  const { keeper, pings } = keeperOn(tracker, clock)
  keeper.maintain()
  await flushPromises()
  assert.equal(pings, [0, 0], 'one ping per missing connection at first')
  // Every failed handshake's close event asks again: nothing runs before the retry is due.
  for (let i = 0; i < 100; i++) keeper.maintain()
  await flushPromises()
  assert.is(pings.length, 2)
  await clock.advance(10_000)
  const retries = pings.slice(2)
  const gaps = retries.map((at, i) => at - (i === 0 ? 0 : (retries[i - 1] as number)))
  assert.equal(gaps.slice(0, 8), [50, 100, 200, 400, 800, 1000, 1000, 1000])
  assert.ok(retries.length <= 20, `${retries.length} retries in 10s`)
  keeper.stop()
  assert.is(clock.pendingTimers, 0, 'stop() cancels the pending retry')
  await clock.advance(10_000)
  assert.is(pings.length, 2 + retries.length, 'nothing after stop()')
})

Backoff('a run still in flight when the pool closes arms no retry as it ends', async () => {
  const clock = new ManualClock(0)
  const tracker = { total: 0, open: 0, busy: 0, waiting: 0 }
  const { keeper, pings } = keeperOn(tracker, clock)
  keeper.maintain() // its pings fail a moment later
  keeper.stop()
  await flushPromises()
  assert.is(pings.length, 2)
  assert.is(clock.pendingTimers, 0, 'no retry left on the clock of a closed pool')
})

Backoff('progress ends the backoff: refills go on at once, and the next failure starts again at 50ms', async () => {
  const clock = new ManualClock(0)
  const tracker = { total: 0, open: 0, busy: 0, waiting: 0 }
  const { keeper, pings, serverUp } = keeperOn(tracker, clock)
  keeper.maintain()
  await clock.advance(50 + 100 + 200) // three failed retries: the next one is due 400ms later
  const failed = pings.length
  serverUp(true)
  await clock.advance(400)
  assert.equal([tracker.open, tracker.total], [2, 2], 'the retry opened one, and a run at once the other')
  assert.is(pings.length, failed + 3, 'the retry, then one ping per connection not in use')
  assert.is(clock.pendingTimers, 0, 'no retry pending once minSize is reached')
  // Both connections go away while the server refuses again: a full refill at once, then a retry 50ms later.
  serverUp(false)
  tracker.open = tracker.total = 0
  const before = pings.length
  keeper.maintain()
  await flushPromises()
  assert.is(pings.length, before + 2)
  await clock.advance(49)
  assert.is(pings.length, before + 2)
  await clock.advance(1)
  assert.is(pings.length, before + 3)
  keeper.stop()
})

Backoff('a probe answered on a connection that outlived an outage asks for the missing connections at once', async () => {
  const clock = new ManualClock(0)
  // One connection survived the outage: a lone ping is served on it and opens nothing.
  const tracker = { total: 1, open: 1, busy: 0, waiting: 0 }
  const { keeper, pings, serverUp } = keeperOn(tracker, clock, 3)
  keeper.maintain()
  await flushPromises()
  assert.is(pings.length, 3, 'one ping per connection not in use')
  serverUp(true)
  await clock.advance(50)
  assert.equal([tracker.open, tracker.total], [3, 3], 'the probe was answered, so the refill went on at once')
  assert.is(clock.pendingTimers, 0)
  keeper.stop()
})

Backoff('checkouts already waiting inside the driver are counted: the refill asks only for what they leave missing', async () => {
  const clock = new ManualClock(0)
  // After a pool clear: nothing open, and a retried read waiting in the driver for a connection of its own.
  const tracker = { total: 0, open: 0, busy: 0, waiting: 1 }
  // The server refuses for now: the first run is all there is to count.
  const { keeper, pings } = keeperOn(tracker, clock, 2)
  keeper.maintain()
  await flushPromises()
  assert.is(pings.length, 1, 'one ping: the read asks for the other connection itself')
  keeper.stop()
})

Backoff.run()

const DB = 'lifeguard_keeper'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Refill = suite<Context>('minSize refill against a server refusing new connections', { target: undefined as never, pools: [] })

Refill.before(async (context) => {
  context.target = await startTarget([DB])
})

Refill.after.each(async (context) => {
  const wire = context.target.wire
  wire?.clearFaults()
  wire?.refuseNewConnections(false)
  await closeAll(context.target, context.pools)
})

Refill.after(async (context) => {
  await context.target.close()
})

faultTest(Refill)('a lost connection is reopened a few times a second at most, and once the server takes connections again', async (context) => {
  const { target } = context
  const wire = target.wire!
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, minSize: 2, maxSize: 4, faults: true, events: recorder.listeners })
  context.pools.push(pool)
  const app = appNameOf(pool)
  await pool.warmup()
  await target.waitForMonitor(app)
  // The server stops taking connections (its monitor connection stays), and a pool connection drops.
  wire.refuseNewConnections(true)
  wire.fault('ping', { kind: 'closeSocket' })
  await rejects(pool.db().command({ ping: 1 }), MongoNetworkError)
  const refusedBefore = wire.refusedCount
  const errorsBefore = recorder.of('error').length
  // A real window: the driver's own timers cannot run on a manual clock. Without backoff: thousands.
  await sleep(1000)
  const attempts = wire.refusedCount - refusedBefore
  assert.ok(attempts >= 1, 'the keeper tried to refill')
  assert.ok(attempts <= 15, `${attempts} connection attempts in 1s`)
  assert.ok(recorder.of('error').length - errorsBefore <= 2 * 15, `${recorder.of('error').length - errorsBefore} error events in 1s`)

  wire.refuseNewConnections(false)
  await target.waitForPoolConnections(app, 2, 3000)
  await wire.waitFor(() => pool.getPoolMetrics().idleConnections === 2, 2000, 'two idle connections')
})

Refill.run()
