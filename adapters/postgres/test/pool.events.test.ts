import type { ConnectEvent, DisconnectEvent, PoolErrorEvent, PoolEventListeners } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool } from '../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool lifecycle events')

test('fires onPoolCreated at construction with the redacted target and sizes', async () => {
  const seen: unknown[] = []
  const { pool, appName } = testPool('events-created', { minSize: 1, maxSize: 3, password: 'not-used-s3cret', events: { onPoolCreated: (e) => void seen.push(e) } })
  assert.equal(seen, [{ pool: 'events-created', kind: 'postgres', target: pool.target, minSize: 1, maxSize: 3 }])
  assert.not.match(pool.target, 's3cret')
  assert.match(pool.target, /^postgres:\/\/[^:@]+@[^/]+:\d+\/\w+$/)
  await closeAndCheck(pool, appName)
})

test('fires onConnect with a create time and onAcquire/onRelease with wait and use times', async () => {
  const connects: ConnectEvent[] = []
  const acquires: number[] = []
  const releases: number[] = []
  const { pool, appName } = testPool('events-checkout', {
    events: {
      onConnect: (e) => void connects.push(e),
      onAcquire: (e) => void acquires.push(e.waitMillis),
      onRelease: (e) => void releases.push(e.useMillis),
    },
  })
  const client = await pool.connect()
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  client.release()
  assert.is(connects.length, 1)
  assert.is(connects[0]?.connectionId, rows[0]?.pid)
  assert.ok((connects[0]?.createMillis ?? 0) > 0)
  assert.is(acquires.length, 1)
  assert.ok((acquires[0] ?? -1) >= 0)
  assert.is(releases.length, 1)
  assert.ok((releases[0] ?? -1) >= 0)
  await pool.query('SELECT 1')
  assert.is(connects.length, 1, 'the idle connection is reused')
  assert.is(acquires.length, 2)
  await closeAndCheck(pool, appName)
})

test('fires onDisconnect with reason idle after idleTimeoutMillis, and closed on close()', async () => {
  const reasons: DisconnectEvent['reason'][] = []
  const { pool, appName } = testPool('events-disconnect', { idleTimeoutMillis: 50, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  await pool.query('SELECT 1')
  await until('the idle disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['idle'])
  await waitForConnectionCount(appName, 0)
  await pool.query('SELECT 1')
  await pool.close()
  assert.equal(reasons, ['idle', 'closed'])
  await closeAndCheck(pool, appName)
})

test('fires onDisconnect with reason released when the holder destroys the client', async () => {
  const reasons: string[] = []
  const { pool, appName } = testPool('events-released', { events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  const client = await pool.connect()
  client.release(true)
  await until('the disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['released'])
  await closeAndCheck(pool, appName)
})

test('reports a failed connection attempt through onError, with the pool named', async () => {
  const errors: PoolErrorEvent[] = []
  const appName = uniqueAppName('events-error')
  const pool = createPostgresPool({ ...pgConfig(), name: 'events-error', database: 'lifeguard_no_such_db', applicationName: appName, events: { onError: (e) => void errors.push(e) } })
  await pool.query('SELECT 1').catch(() => undefined)
  assert.is(errors.length, 1)
  assert.is(errors[0]?.pool, 'events-error')
  assert.is(errors[0]?.source, 'connection')
  assert.match(errors[0]?.error.message ?? '', 'lifeguard_no_such_db')
  await closeAndCheck(pool, appName)
})

test('a listener that throws or rejects is reported, never thrown into the pool', async () => {
  const reported: PoolErrorEvent[] = []
  const failing: PoolEventListeners = {
    onAcquire: () => {
      throw new Error('listener broke')
    },
    onRelease: async () => {
      throw new Error('async listener broke')
    },
  }
  const { pool, appName } = testPool('events-listener', { events: [failing, { onError: (e) => void reported.push(e) }] })
  const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one')
  assert.equal(rows, [{ one: 1 }])
  await until('both listener failures', () => reported.length === 2)
  assert.equal(reported.map((e) => e.source), ['listener', 'listener'])
  assert.equal(reported.map((e) => e.error.message).sort(), ['async listener broke', 'listener broke'])
  await closeAndCheck(pool, appName)
})

test("a client given back with the server's answer to a failed statement is closed, as pg-pool does, and is not the pool's error", async () => {
  const errors: PoolErrorEvent[] = []
  const disconnects: DisconnectEvent[] = []
  const { pool, appName } = testPool('events-release-error', { events: { onError: (e) => void errors.push(e), onDisconnect: (e) => void disconnects.push(e) } })
  const client = await pool.connect()
  const failure = await client.query('SELEC 1').then(() => undefined, (error: unknown) => error)
  assert.instance(failure, Error)
  // pg's examples hand every error back to release().
  client.release(failure as Error)
  await until('the connection closed', () => disconnects.length === 1)
  assert.equal(disconnects.map((e) => e.reason), ['released'])
  assert.equal(errors, [])
  assert.equal([pool.getPoolMetrics().errors, pool.getPoolMetrics().lastError], [0, undefined])
  await closeAndCheck(pool, appName)
})

test('on() subscribes and its return value unsubscribes', async () => {
  const { pool, appName } = testPool('events-on')
  const waits: number[] = []
  const off = pool.on('acquire', (e) => void waits.push(e.waitMillis))
  await pool.query('SELECT 1')
  off()
  await pool.query('SELECT 1')
  assert.is(waits.length, 1)
  await closeAndCheck(pool, appName)
})

test.run()
