// Several hosts and targetSessionAttrs against the shared test server (a primary): which host a pool
// reaches, and what it says when none fits. Failover between real servers is in failover.test.ts.
import { PoolTimeoutError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { closedPort, pgConfig, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { Pool, PostgresConnectError, createPostgresPool, type PostgresPoolOptions } from '../src/index.js'
import pg from 'pg'
import { closeAndCheck } from './_helpers/pools.js'
import { silentProxy } from './_helpers/silent-proxy.js'

const test = suite<{ refused: number }>('several hosts and targetSessionAttrs (shared server)')

test.before(async (context) => {
  context.refused = await closedPort()
})

const server = () => ({ host: pgConfig().host, port: pgConfig().port })

/** A pool on the test server's user and database, with the hosts given. */
function hostsPool(topic: string, options: Partial<PostgresPoolOptions>) {
  const { user, database, password } = pgConfig()
  const appName = uniqueAppName(topic)
  const pool = createPostgresPool({ name: topic, user, database, ...(password === undefined ? {} : { password }), applicationName: appName, ...options })
  return { pool, appName }
}

test('skips a host that refuses and connects to the next one', async ({ refused }) => {
  const { pool, appName } = hostsPool('hosts-any', { hosts: [{ host: '127.0.0.1', port: refused }, server()] })
  const { rows } = await pool.query<{ port: number }>('SELECT inet_server_port() AS port')
  assert.is(rows[0]?.port, server().port)
  assert.is(pool.target.includes(`127.0.0.1:${refused},`), true)
  await closeAndCheck(pool, appName)
})

test("read-write and primary reach the primary; standby finds none and times out naming each host's answer", async ({ refused }) => {
  for (const target of ['read-write', 'primary', 'prefer-standby'] as const) {
    const { pool, appName } = hostsPool(`hosts-${target}`, { hosts: [server()], targetSessionAttrs: target })
    const { rows } = await pool.query<{ ok: number }>('SELECT 1 AS ok')
    assert.equal(rows, [{ ok: 1 }], target)
    await closeAndCheck(pool, appName)
  }
  const { pool, appName } = hostsPool('hosts-standby', { hosts: [{ host: '127.0.0.1', port: refused }, server()], targetSessionAttrs: 'standby', acquireTimeoutMillis: 300 })
  const error = await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  const cause = error.cause as Error
  assert.match(cause.message, `No server fits targetSessionAttrs 'standby': 127.0.0.1:${refused} refused the connection (ECONNREFUSED); ${server().host}:${server().port} is a primary (read-write).`)
  await closeAndCheck(pool, appName)
})

test("the session check reads the server right whatever the client's own type parsers and format", async () => {
  // Every value as its raw text (booleans then arrive as 't'), and results in binary format.
  const rawText = { getTypeParser: () => (value: string) => value } as unknown as pg.CustomTypesConfig
  for (const [label, settings] of [['types', { types: rawText }], ['binary', { binary: true }]] as const) {
    // A primary made read-only for these sessions only.
    const pg = { ...settings, options: '-c default_transaction_read_only=on' }
    const readOnly = hostsPool(`hosts-${label}-ro`, { hosts: [server()], targetSessionAttrs: 'read-only', pg })
    assert.ok((await readOnly.pool.query('SELECT 1 AS ok')).rows[0]?.ok, `${label}: a read-only session fits read-only`)
    await closeAndCheck(readOnly.pool, readOnly.appName)
    const readWrite = hostsPool(`hosts-${label}-rw`, { hosts: [server()], targetSessionAttrs: 'read-write', acquireTimeoutMillis: 300, pg })
    const error = await rejects(readWrite.pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    assert.match((error.cause as Error).message, 'is a primary in read-only mode', `${label}: refused for read-write`)
    await closeAndCheck(readWrite.pool, readWrite.appName)
  }
})

test('a failure every host gives for good (no such database) fails at once with PostgresConnectError', async () => {
  const { pool, appName } = hostsPool('hosts-permanent', { database: 'lifeguard_no_such_db', hosts: [server(), server()], targetSessionAttrs: 'read-write' })
  const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
  assert.is(error.sqlState, '3D000')
  await closeAndCheck(pool, appName)
})

test('TLS settings the server cannot meet fail at once with PostgresConnectError, not after the acquire timeout', async () => {
  const { pool: probe, appName: probeApp } = hostsPool('hosts-ssl-probe', { hosts: [server()] })
  const { rows } = await probe.query<{ ssl: string }>('SHOW ssl')
  await closeAndCheck(probe, probeApp)
  // A server without TLS refuses it; one with a certificate this client cannot verify fails the check.
  const serverHasTls = rows[0]?.ssl === 'on'
  const { pool, appName } = hostsPool('hosts-ssl', { hosts: [server()], acquireTimeoutMillis: 20_000, ssl: serverHasTls ? { rejectUnauthorized: true, ca: [] } : true })
  const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
  if (!serverHasTls) assert.match(error.message, 'The server does not support SSL connections')
  assert.is(error.sqlState, undefined)
  await closeAndCheck(pool, appName)
})

test('PGHOST and PGPORT lists are read as libpq reads them, by both faces', async ({ refused }) => {
  const { host, port } = server()
  const { user, database } = pgConfig()
  const saved = { PGHOST: process.env['PGHOST'], PGPORT: process.env['PGPORT'] }
  // Read when the pool is made (the test kit's own clients read these too: restored at once).
  process.env['PGHOST'] = `127.0.0.1,${host}`
  process.env['PGPORT'] = `${refused},${port}`
  let made: { pool: ReturnType<typeof hostsPool>['pool']; appName: string; dropIn: Pool }
  try {
    const { pool, appName } = hostsPool('hosts-env', {})
    made = { pool, appName, dropIn: new Pool({ user, database, application_name: appName, max: 1 }) }
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key]
      else process.env[key] = value
    }
  }
  const { pool, appName, dropIn } = made
  assert.is(pool.target.split('@')[1]?.split('/')[0], `127.0.0.1:${refused},${host}:${port}`)
  assert.equal((await pool.query<{ port: number }>('SELECT inet_server_port() AS port')).rows, [{ port }])
  assert.equal((await dropIn.query<{ port: number }>('SELECT inet_server_port() AS port')).rows, [{ port }])
  await dropIn.end()
  await closeAndCheck(pool, appName)
})

test('the pg.Pool face with a comma-separated host list and targetSessionAttrs', async ({ refused }) => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('hosts-pg-style')
  const pool = new Pool({ host: `127.0.0.1,${host}`, port: `${refused},${port}` as unknown as number, user, database, application_name: appName, targetSessionAttrs: 'read-write', max: 2 })
  const { rows } = await pool.query<{ port: number }>('SELECT inet_server_port() AS port')
  assert.is(rows[0]?.port, port)
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test('a host that logs in and never answers the session check costs its share, then the next host serves', async () => {
  const paused = await silentProxy(server())
  paused.answerLoginsOnly()
  try {
    const { pool, appName } = hostsPool('hosts-hung-check', {
      hosts: [{ host: paused.host, port: paused.port }, server()],
      targetSessionAttrs: 'read-write',
      connectTimeoutMillis: 2_000,
      acquireTimeoutMillis: 10_000,
    })
    const { rows } = await pool.query<{ port: number }>('SELECT inet_server_port() AS port')
    assert.is(rows[0]?.port, server().port, 'served by the second host, not timed out on the first')
    await closeAndCheck(pool, appName)
    assert.is(paused.open(), 0, 'the connection that hung in its check was closed')
  } finally {
    await paused.close()
  }
})

test('the pg.Pool face hands the password to every host (it is kept out of sight, and a spread dropped it)', async ({ refused }) => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('hosts-pg-password')
  const seen: unknown[] = []
  class RecordingClient extends pg.Client {
    constructor(config: pg.ClientConfig) {
      super(config)
      seen.push(config.password)
    }
  }
  const pool = new Pool({ host: `127.0.0.1,${host}`, port: `${refused},${port}` as unknown as number, user, database, password: 'per-host-secret', application_name: appName, Client: RecordingClient as unknown as new () => pg.ClientBase, max: 1 })
  await pool.query('SELECT 1')
  assert.ok(seen.length >= 2)
  for (const password of seen) assert.is(password, 'per-host-secret')
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test.run()
