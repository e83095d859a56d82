// pooler: 'pgbouncer-transaction' refuses every session feature before it reaches PgBouncer, on every
// path a statement can take, and lets through what is safe in transaction pooling. One server
// connection behind PgBouncer (default_pool_size 1): a statement that slipped through would leave its
// state where the next client finds it, so each test also checks that nothing leaked.
import { createServiceContainer, runOperation } from '@lifeguard/core'
import pg from 'pg'
import QueryStream from 'pg-query-stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { uniqueAppName, waitForConnectionCount, rejects, startPgBouncer, supportsMaxPreparedStatements, type PgBouncer } from '@lifeguard/test-kit'
import { Pool, SessionFeatureError, createPostgresPool, registerPostgres, type PostgresPool, type SessionFeature } from '../src/index.js'

interface Context {
  bouncer: PgBouncer
  pool: PostgresPool
  appName: string
}

const test = suite<Context>("pooler: 'pgbouncer-transaction' refuses session features on every path")

test.before(async (context) => {
  context.bouncer = await startPgBouncer({ poolMode: 'transaction', defaultPoolSize: 1 })
  context.appName = appNameFor('pgbouncer-pooler')
  context.pool = createPostgresPool({ name: 'bounced', connectionString: context.bouncer.connectionString, applicationName: context.appName, maxSize: 2, pooler: 'pgbouncer-transaction' })
})

// Every application_name a test used: PgBouncer's one server connection carries the last client's.
const appNames: string[] = []
function appNameFor(topic: string): string {
  const appName = uniqueAppName(topic)
  appNames.push(appName)
  return appName
}

test.after(async ({ bouncer, pool }) => {
  await pool?.close()
  await bouncer?.stop()
  for (const appName of appNames) await waitForConnectionCount(appName, 0)
})

const refused: [string, SessionFeature][] = [
  ["SET statement_timeout = '4321ms'", 'session-set'],
  ['RESET statement_timeout', 'session-set'],
  ["SELECT set_config('statement_timeout', '4321ms', false)", 'session-set'],
  ['LISTEN lifeguard_orders', 'listen'],
  ['SELECT pg_try_advisory_lock(4242)', 'advisory-lock'],
  ['PREPARE lifeguard_q AS SELECT 1', 'sql-prepare'],
  ['CREATE TEMP TABLE lifeguard_scratch (n int)', 'temp-table'],
]

/** The server session behind PgBouncer still has none of the state the refused statements would leave. */
async function nothingLeaked(pool: PostgresPool): Promise<void> {
  const { rows } = await pool.query(
    "SELECT current_setting('statement_timeout') AS timeout, (SELECT count(*)::int FROM pg_listening_channels()) AS channels, (SELECT count(*)::int FROM pg_locks WHERE locktype = 'advisory') AS locks, (SELECT count(*)::int FROM pg_prepared_statements) AS prepared, to_regclass('pg_temp.lifeguard_scratch') IS NULL AS no_temp",
  )
  assert.equal(rows, [{ timeout: '0', channels: 0, locks: 0, prepared: 0, no_temp: true }])
}

/** The error a submittable (pg's own `Query`, as a cursor or stream would be) emits. */
function submitted(query: pg.Query): Promise<Error> {
  return new Promise((resolve, reject) => {
    query.on('error', resolve)
    query.on('end', () => reject(new Error('the statement ran')))
  })
}

/** The error a pg-query-stream, read as it flows, is destroyed with. */
function streamed(stream: QueryStream): Promise<Error> {
  return new Promise((resolve, reject) => {
    stream.on('error', resolve)
    stream.on('data', () => undefined)
    stream.on('end', () => reject(new Error('the statement ran')))
  })
}

async function refuses(promise: Promise<unknown>, feature: SessionFeature, sql: string, pool = 'bounced'): Promise<void> {
  const error = await rejects(promise, SessionFeatureError, 'ERR_POSTGRES_SESSION_FEATURE')
  assert.is(error.feature, feature, sql)
  assert.is(error.pool, pool)
  assert.match(error.message, `Could not run the statement on pool '${pool}'.`)
  assert.match(error.message, "PgBouncer in transaction mode shares between clients (pooler: 'pgbouncer-transaction')")
}

test('pool.query refuses each feature before taking a connection, naming it and what to use instead', async ({ pool }) => {
  for (const [sql, feature] of refused) await refuses(pool.query(sql), feature, sql)
  const error = await rejects(pool.query("SET search_path = app"), SessionFeatureError)
  assert.match(error.message, 'use `SET LOCAL` inside transaction(), or set it on the role or database (`ALTER ROLE ... SET ...`).')
  assert.is(pool.getPoolMetrics().waitTime.count, 0, 'no checkout for a refused statement')
  await nothingLeaked(pool)
})

test('a client from connect() refuses them too, in promise, callback and submittable forms, and stays usable', async ({ pool }) => {
  const client = await pool.connect()
  try {
    for (const [sql, feature] of refused) await refuses(client.query(sql), feature, sql)
    const viaCallback = await new Promise<Error>((resolve) => client.query('LISTEN lifeguard_orders', (error: Error) => resolve(error)))
    assert.instance(viaCallback, SessionFeatureError)
    assert.instance(await submitted(client.query(new pg.Query('SELECT pg_advisory_lock(1)'))), SessionFeatureError)
    const { rows } = await client.query('SELECT 1 AS n')
    assert.equal(rows, [{ n: 1 }])
  } finally {
    client.release()
  }
  await nothingLeaked(pool)
})

test('transactions and the request-scoped handle refuse them; the transaction rolls back with the error', async ({ pool }) => {
  const container = registerPostgres(createServiceContainer(), pool)
  await runOperation('api', 'POST /', async (context) => {
    await refuses(context.postgres.query('UNLISTEN *'), 'listen', 'UNLISTEN *')
    await refuses(context.postgres.transaction((tx) => tx.query('SET search_path = app')), 'session-set', 'in a transaction')
    await refuses(context.postgres.transaction((tx) => tx.query({ name: 'lifeguard_q', text: 'SELECT 1' })), 'named-statement', 'named')
    const client = await context.postgres.connect()
    await refuses(client.query('DECLARE c CURSOR WITH HOLD FOR SELECT 1'), 'hold-cursor', 'WITH HOLD')
  }, { container })
  await nothingLeaked(pool)
})

test('what is safe in transaction pooling still runs: SET LOCAL, transaction advisory locks, ON COMMIT DROP, unnamed parameters, NOTIFY', async ({ pool }) => {
  const container = registerPostgres(createServiceContainer(), pool)
  const result = await runOperation('api', 'POST /', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query("SET LOCAL statement_timeout = '4321ms'")
      await tx.query('SELECT pg_advisory_xact_lock(4242)')
      await tx.query('CREATE TEMP TABLE lifeguard_scratch (n int) ON COMMIT DROP')
      await tx.query('INSERT INTO lifeguard_scratch VALUES ($1)', [7])
      await tx.query("NOTIFY lifeguard_orders, 'placed'")
      const { rows } = await tx.query("SELECT current_setting('statement_timeout') AS timeout, (SELECT sum(n)::int FROM lifeguard_scratch) AS n")
      return rows[0]
    }),
  { container })
  assert.equal(result, { timeout: '4321ms', n: 7 })
  await nothingLeaked(pool)
})

test('the pg.Pool face takes the option too, on query, connect and submittables', async ({ bouncer }) => {
  const appName = appNameFor('pgbouncer-pooler-pg')
  const pool = new Pool({ connectionString: bouncer.connectionString, application_name: appName, max: 1, pooler: 'pgbouncer-transaction' })
  await refuses(pool.query('SET search_path = app'), 'session-set', 'pool.query', appName)
  const viaCallback = await new Promise<Error>((resolve) => pool.query('LISTEN x', (error) => resolve(error)))
  assert.instance(viaCallback, SessionFeatureError)
  assert.instance(await submitted(pool.query(new pg.Query('SELECT pg_advisory_lock(1)'))), SessionFeatureError)
  const client = await pool.connect()
  await refuses(client.query({ name: 'q', text: 'SELECT 1' }), 'named-statement', 'named', appName)
  client.release()
  assert.is(pool.totalCount <= 1, true)
  await pool.end()
})

test('a pg-query-stream, whose SQL is on its cursor, is refused too: on the pg.Pool face and on a held client', async ({ pool, bouncer }) => {
  const sessionSet = "SELECT set_config('statement_timeout', '4321ms', false)"
  const appName = appNameFor('pgbouncer-pooler-stream')
  const dropIn = new Pool({ connectionString: bouncer.connectionString, application_name: appName, max: 1, pooler: 'pgbouncer-transaction' })
  try {
    assert.instance(await streamed(dropIn.query(new QueryStream(sessionSet))), SessionFeatureError)
    const client = await pool.connect()
    try {
      assert.instance(await streamed(client.query(new QueryStream(sessionSet))), SessionFeatureError)
    } finally {
      client.release()
    }
  } finally {
    await dropIn.end()
  }
  await nothingLeaked(pool)
})

test('namedPreparedStatements: true lets named statements through (for PgBouncer 1.21+ with max_prepared_statements)', async ({ bouncer }) => {
  const appName = appNameFor('pgbouncer-named')
  const pool = createPostgresPool({ name: 'named', connectionString: bouncer.connectionString, applicationName: appName, maxSize: 1, pooler: { type: 'pgbouncer-transaction', namedPreparedStatements: true } })
  const { rows } = await pool.query<{ n: number }>({ name: 'lifeguard_named', text: 'SELECT $1::int AS n', values: [3] })
  assert.equal(rows, [{ n: 3 }])
  await refuses(pool.query('PREPARE lifeguard_sql AS SELECT 1'), 'sql-prepare', 'SQL PREPARE stays refused', 'named')
  await pool.close()
  if (!(await supportsMaxPreparedStatements())) {
    process.stdout.write(`\n    (PgBouncer ${bouncer.version}: named statements across clients need 1.21+; shown by pgbouncer.breaks.test.ts)\n`)
    return
  }
  const tracking = await startPgBouncer({ poolMode: 'transaction', defaultPoolSize: 1, maxPreparedStatements: 100 })
  try {
    const shared = createPostgresPool({ name: 'named', connectionString: tracking.connectionString, applicationName: appName, maxSize: 2, pooler: { type: 'pgbouncer-transaction', namedPreparedStatements: true } })
    const [a, b] = [await shared.connect(), await shared.connect()]
    await a.query({ name: 'lifeguard_named', text: 'SELECT 1 AS n' })
    const { rows: again } = await b.query({ name: 'lifeguard_named', text: 'SELECT 1 AS n' })
    assert.equal(again, [{ n: 1 }])
    a.release()
    b.release()
    await shared.close()
  } finally {
    await tracking.stop()
  }
})

test.run()
