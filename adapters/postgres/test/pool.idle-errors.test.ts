import { ConnectionLostError, type DisconnectEvent, type PoolErrorEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type pg from 'pg'
import { pgConfig, terminateBackends, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { Pool } from '../src/index.js'
import { closeAndCheck, sleep, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool dropped connections')

test('an idle connection terminated by the server is an error event, never a crash', async () => {
  const errors: PoolErrorEvent[] = []
  const disconnects: DisconnectEvent[] = []
  const { pool, appName } = testPool('drop-idle', { events: { onError: (e) => void errors.push(e), onDisconnect: (e) => void disconnects.push(e) } })
  await pool.warmup({ connections: 2 })
  assert.is(await terminateBackends(appName, { state: 'idle' }), 2)
  await until('two error events', () => errors.length === 2)
  await until('two disconnect events', () => disconnects.length === 2)
  assert.equal([...new Set(errors.map((e) => e.source))], ['idle-connection'])
  assert.match(errors[0]?.error.message ?? '', /terminat/i)
  assert.equal([...new Set(disconnects.map((e) => e.reason))], ['error'])
  await waitForConnectionCount(appName, 0)
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.totalConnections, 0)
  assert.is(metrics.errors, 2)
  assert.match(metrics.lastError ?? '', /terminat/i)
  const { rows } = await pool.query<{ one: number }>('SELECT 1 AS one')
  assert.equal(rows, [{ one: 1 }], 'the pool opens a new connection')
  await closeAndCheck(pool, appName)
})

test("the drop-in Pool's 'error' for an idle client comes once the client has left the pool, as pg-pool's, and a query its listener runs leaves the error counted", async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('drop-idle-listener')
  const errors: PoolErrorEvent[] = []
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1, events: { onError: (e) => void errors.push(e) } })
  const seen: { total: number; idle: number }[] = []
  let follow: Promise<pg.QueryResult> | undefined
  pool.on('error', () => {
    seen.push({ total: pool.totalCount, idle: pool.idleCount })
    follow = pool.query('SELECT 1 AS one')
  })
  await pool.query('SELECT 1')
  assert.is(await terminateBackends(appName, { state: 'idle' }), 1)
  await until("the pool's 'error'", () => seen.length === 1)
  assert.equal(seen, [{ total: 0, idle: 0 }])
  assert.equal((await follow)?.rows, [{ one: 1 }], 'served by a new connection')
  assert.equal(errors.map((e) => e.source), ['idle-connection'])
  assert.is(pool.getPoolMetrics().errors, 1)
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test('a busy connection terminated mid-query fails that query and is closed on release', async () => {
  const errors: PoolErrorEvent[] = []
  const reasons: string[] = []
  const { pool, appName } = testPool('drop-busy', { events: { onError: (e) => void errors.push(e), onDisconnect: (e) => void reasons.push(e.reason) } })
  // Settled into a value at once: the rejection comes while the test is still awaiting the termination.
  const running = pool.query('SELECT pg_sleep(5)').then(
    () => undefined,
    (error: unknown) => error,
  )
  await sleep(50)
  assert.is(await terminateBackends(appName, { state: 'active' }), 1)
  const failure = await running
  assert.instance(failure, Error)
  assert.match((failure as Error).message, /terminat/i)
  await until('the disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['error'])
  assert.equal(errors.map((e) => e.source), ['connection'], 'one dropped connection is one error')
  assert.match(errors[0]?.error.message ?? '', /terminat/i)
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  await pool.query('SELECT 1')
  await closeAndCheck(pool, appName)
})

test('a held client whose connection drops reports the error and can still be released', async () => {
  const errors: PoolErrorEvent[] = []
  const reasons: string[] = []
  const { pool, appName } = testPool('drop-held', { events: { onError: (e) => void errors.push(e), onDisconnect: (e) => void reasons.push(e.reason) } })
  const client = await pool.connect()
  await terminateBackends(appName)
  await until('the connection error', () => errors.length > 0)
  await sleep(20)
  assert.equal(errors.map((e) => e.source), ['connection'], 'one dropped connection is one error')
  client.release()
  await until('the disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['error'])
  assert.is(pool.getPoolMetrics().totalConnections, 0)
  await pool.query('SELECT 1')
  await closeAndCheck(pool, appName)
})

test("a statement that met the server's end of an idle session never ran: mayHaveCommitted is false", async () => {
  // The server ends every session idle for 1 ms (57P05): a statement sent just then meets that end, and the
  // server, which sends it only while waiting for a command, never read the statement.
  const table = `idle_end_${process.pid}`
  const { pool: setup, appName: setupApp } = testPool('idle-end-setup', { maxSize: 1 })
  await setup.query(`CREATE TABLE ${table} (id int)`)
  const { pool, appName } = testPool('idle-end', { maxSize: 1, pg: { options: '-c idle_session_timeout=1' } })
  let succeeded = 0
  let lost = 0
  try {
    for (let id = 0; id < 40; id++) {
      try {
        await pool.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id])
        succeeded++
      } catch (error) {
        assert.instance(error, ConnectionLostError, `insert ${id}: ${(error as Error).name}: ${(error as Error).message}`)
        assert.is((error as ConnectionLostError).mayHaveCommitted, false, `insert ${id}: ${String((error as Error).cause)}`)
        lost++
      }
    }
    // Every statement reported as never run did not run.
    const { rows } = await setup.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${table}`)
    assert.is(rows[0]?.count, succeeded, `${succeeded} inserted, ${lost} lost`)
  } finally {
    await setup.query(`DROP TABLE IF EXISTS ${table}`)
    await closeAndCheck(pool, appName)
    await closeAndCheck(setup, setupApp)
  }
})

test.run()
