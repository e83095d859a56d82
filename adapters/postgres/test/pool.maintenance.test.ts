// suspend(), resume() and softEvict() on both pool faces, against the shared test server: the engine's
// rules (core/test/pool-engine.maintenance.test.ts) hold with real connections, and the server's own
// count of connections follows.
import { PoolTimeoutError, type DisconnectEvent, type ResumeEvent, type SuspendEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { pgConfig, serverConnectionCount, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { Pool } from '../src/index.js'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite('suspend, resume and softEvict on a real server')

test('PostgresPool: a suspended pool holds queries (even with idle connections) and serves them on resume, with events and metrics', async () => {
  const suspends: SuspendEvent[] = []
  const resumes: ResumeEvent[] = []
  const { pool, appName } = testPool('maintenance-suspend', { maxSize: 2, events: { onSuspend: (e) => void suspends.push(e), onResume: (e) => void resumes.push(e) } })
  await pool.warmup({ connections: 2 })
  pool.suspend()
  assert.is(pool.suspended, true)
  assert.is(pool.getPoolMetrics().suspended, true)
  let answered = false
  const held = pool.query<{ n: number }>('SELECT 1 AS n').then((result) => ((answered = true), result))
  await until('the query to wait', () => pool.waitingCount === 1)
  assert.is(answered, false)
  assert.is(pool.idleCount, 2)
  pool.resume()
  assert.equal((await held).rows, [{ n: 1 }])
  assert.equal(suspends.map((e) => [e.pool, e.activeConnections, e.waitingRequests]), [['maintenance-suspend', 0, 0]])
  assert.equal(resumes.map((e) => e.waitingRequests), [1])
  assert.ok((resumes[0]?.suspendedMillis ?? -1) >= 0)
  assert.is(pool.getPoolMetrics().suspended, false)
  await closeAndCheck(pool, appName)
})

test('PostgresPool: waiters still time out while suspended', async () => {
  const { pool, appName } = testPool('maintenance-timeout', { acquireTimeoutMillis: 100 })
  pool.suspend()
  await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  pool.resume()
  await closeAndCheck(pool, appName)
})

test('PostgresPool: softEvict closes idle connections on the server now and a busy one when released', async () => {
  const disconnects: DisconnectEvent[] = []
  const { pool, appName } = testPool('maintenance-evict', { maxSize: 3, events: { onDisconnect: (e) => void disconnects.push(e) } })
  await pool.warmup({ connections: 3 })
  const busy = await pool.connect()
  const { rows } = await busy.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  assert.equal(pool.softEvict(), { closed: 2, closingOnRelease: 1 })
  await waitForConnectionCount(appName, 1)
  busy.release()
  await waitForConnectionCount(appName, 0)
  await until('the evictions to be reported', () => disconnects.length === 3)
  assert.equal([...new Set(disconnects.map((e) => e.reason))], ['evicted'])
  assert.ok(disconnects.some((e) => e.connectionId === rows[0]?.pid))
  const { rows: fresh } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  assert.is.not(fresh[0]?.pid, rows[0]?.pid, 'a new connection serves the next query')
  assert.is(await serverConnectionCount(appName), 1)
  await closeAndCheck(pool, appName)
})

test('Pool (the pg.Pool face): the same controls, and pg-style clients keep working across them', async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('maintenance-pg-style')
  const pool = new Pool({ host, port, user, database, application_name: appName, max: 2 })
  const client = await pool.connect()
  pool.suspend()
  const waiting = pool.query('SELECT 2 AS n')
  await until('the query to wait', () => pool.waitingCount === 1)
  await client.query('SELECT 1')
  assert.equal(pool.softEvict(), { closed: 0, closingOnRelease: 1 })
  client.release()
  await waitForConnectionCount(appName, 0)
  pool.resume()
  assert.equal((await waiting).rows, [{ n: 2 }])
  assert.is(pool.suspended, false)
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test.run()
