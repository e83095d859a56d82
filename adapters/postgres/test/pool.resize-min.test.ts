import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock, serverConnectionCount, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool resize: lowering minSize')

test('closes at once the idle connections above the new minSize that idled past idleTimeoutMillis', async () => {
  const clock = new ManualClock()
  const reasons: string[] = []
  const { pool, appName } = testPool('resize-min-now', { clock, minSize: 4, maxSize: 6, idleTimeoutMillis: 300, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  try {
    await pool.warmup()
    // A quiet pool at its minimum: the housekeeping at 300 ms closes nothing and leaves no timer.
    await clock.advance(500)
    assert.is(await serverConnectionCount(appName), 4)
    pool.resize({ minSize: 1 })
    assert.is(pool.totalCount, 1)
    await waitForConnectionCount(appName, 1)
    // The server may count a connection gone before its client has read the socket's end (and said so).
    await until('three disconnect events', () => reasons.length >= 3)
    assert.equal(reasons, ['idle', 'idle', 'idle'])
  } finally {
    await closeAndCheck(pool, appName)
  }
})

test('closes the others when their idle timeout is due', async () => {
  const clock = new ManualClock()
  const { pool, appName } = testPool('resize-min-due', { clock, minSize: 3, maxSize: 6, idleTimeoutMillis: 300 })
  try {
    await pool.warmup()
    await clock.advance(100)
    const used = [await pool.connect(), await pool.connect()]
    for (const client of used) client.release()
    await clock.advance(250)
    pool.resize({ minSize: 1 })
    await waitForConnectionCount(appName, 2)
    await clock.advance(49)
    assert.is(await serverConnectionCount(appName), 2, 'the two used at 100 ms are not due yet')
    await clock.advance(1)
    await waitForConnectionCount(appName, 1)
    assert.is(pool.totalCount, 1)
  } finally {
    await closeAndCheck(pool, appName)
  }
})

test.run()
