import { InvalidOptionError, PoolClosedError, type LeakEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock, pgConfig, rejects, runningStatementCount, serverConnectionCount, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, sleep, testPool } from './_helpers/pools.js'
import { silentProxy } from './_helpers/silent-proxy.js'
import pg from 'pg'

const test = suite('PostgresPool close')

test('waits for checked-out clients, then closes every connection', async () => {
  const clock = new ManualClock()
  const reasons: string[] = []
  const { pool, appName } = testPool('close-graceful', { clock, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  await pool.warmup({ connections: 2 })
  const client = await pool.connect()
  let closed = false
  const closing = pool.close().then(() => void (closed = true))
  assert.is(pool.state, 'closing')
  await clock.advance(9_999)
  assert.not.ok(closed, 'still waiting for the checked-out client')
  const { rows } = await client.query<{ one: number }>('SELECT 1 AS one')
  assert.equal(rows, [{ one: 1 }], 'work in progress can finish')
  client.release()
  await closing
  assert.is(pool.state, 'closed')
  assert.equal(reasons, ['closed', 'closed'])
  assert.is(await serverConnectionCount(appName), 0)
})

test('rejects waiters and new checkouts with PoolClosedError', async () => {
  const { pool, appName } = testPool('close-waiters', { maxSize: 1 })
  const holder = await pool.connect()
  const waiting = rejects(pool.connect(), PoolClosedError, 'ERR_POOL_CLOSED')
  const closing = pool.close()
  const error = await waiting
  assert.match(error.message, "Could not acquire a connection from pool 'close-waiters'. The pool is closed.")
  await rejects(pool.query('SELECT 1'), PoolClosedError, 'ERR_POOL_CLOSED')
  holder.release()
  await closing
  await closeAndCheck(pool, appName)
})

test('after timeoutMillis takes back clients still out; their late release is harmless', async () => {
  const clock = new ManualClock()
  const leaks: LeakEvent[] = []
  const reasons: string[] = []
  const { pool, appName } = testPool('close-force', { clock, leakDetectionMillis: 200, events: { onLeak: (e) => void leaks.push(e), onDisconnect: (e) => void reasons.push(e.reason) } })
  const client = await pool.connect()
  const closing = pool.close({ timeoutMillis: 50 })
  await clock.advance(50)
  await closing
  assert.is(pool.state, 'closed')
  assert.equal(reasons, ['closed'])
  assert.is(pool.activeCount, 0)
  await waitForConnectionCount(appName, 0)
  client.release()
  await clock.advance(250)
  assert.equal(leaks, [], 'the leak timer was cleared')
})

test('a statement still running when the close times out is cancelled: no session outlives the pool', async () => {
  const clock = new ManualClock()
  const { pool, appName } = testPool('close-cancel', { clock })
  const client = await pool.connect()
  const running = client.query('SELECT pg_sleep(60)').then(() => undefined, (error: unknown) => error)
  for (let i = 0; i < 500 && (await runningStatementCount(appName, 'pg_sleep')) === 0; i++) await sleep(10)
  const closing = pool.close({ timeoutMillis: 50 })
  await clock.advance(50)
  await closing
  assert.instance(await running, Error)
  // Without the cancel, the server would keep the session until the statement ended, a minute later.
  await waitForConnectionCount(appName, 0)
  client.release()
})

test('a connection to a server gone silent is closed all the same: its socket destroyed, its disconnect reported', async () => {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  const clients: pg.Client[] = []
  class RecordingClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super(config)
      clients.push(this)
    }
  }
  try {
    const clock = new ManualClock()
    const { pool, appName } = testPool('close-silent', { host: proxy.host, port: proxy.port, maxSize: 2, clock, pg: { Client: RecordingClient as unknown as typeof pg.Client } })
    const disconnects: string[] = []
    pool.on('disconnect', (event) => void disconnects.push(event.reason))
    await pool.query('SELECT 1')
    assert.is(clients.length, 1)
    // A partition: the server never answers the Terminate, nor closes its side.
    proxy.silence()
    const closing = pool.close({ timeoutMillis: 100 })
    const socket = (clients[0] as unknown as { connection: { stream: { destroyed: boolean } } }).connection.stream
    await clock.advance(1_999)
    assert.not.ok(socket.destroyed, 'given its chance to close first')
    await clock.advance(1)
    assert.ok(socket.destroyed, 'the socket was destroyed, not left open (holding the process) for good')
    await closing
    assert.equal(disconnects, ['closed'])
    assert.is(pool.getPoolMetrics().totalConnections, 0)
    await proxy.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test('is idempotent, end() is the same, and a bad timeout is an InvalidOptionError', async () => {
  const { pool, appName } = testPool('close-twice')
  const invalid = await rejects(pool.close({ timeoutMillis: -1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(invalid.option, 'timeoutMillis')
  await pool.query('SELECT 1')
  const first = pool.close()
  assert.is(pool.close(), first)
  assert.is(pool.end(), first)
  await first
  await closeAndCheck(pool, appName)
})

test.run()
