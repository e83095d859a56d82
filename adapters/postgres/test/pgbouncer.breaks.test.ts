// What PgBouncer's transaction pooling breaks when the pool does not know about it: two clients of the
// pool, one server connection (default_pool_size 1), so whatever one leaves in the session the other
// finds. Each case is what `pooler: 'pgbouncer-transaction'` refuses (pgbouncer.pooler-option.test.ts).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { uniqueAppName, waitForConnectionCount, rejects, startPgBouncer, type PgBouncer } from '@lifeguard/test-kit'
import { PostgresConnectError, createPostgresPool, type PostgresPool, type PostgresPoolClient } from '../src/index.js'

interface Context {
  bouncer: PgBouncer
  pool: PostgresPool
  appName: string
}

const test = suite<Context>('through PgBouncer in transaction mode without the pooler option, session state leaks')

test.before(async (context) => {
  context.bouncer = await startPgBouncer({ poolMode: 'transaction', defaultPoolSize: 1 })
  context.appName = uniqueAppName('pgbouncer-breaks')
  context.pool = createPostgresPool({ name: 'bounced', connectionString: context.bouncer.connectionString, applicationName: context.appName, maxSize: 2 })
})

test.after(async ({ bouncer, pool, appName }) => {
  await pool?.close()
  await bouncer?.stop()
  if (appName !== undefined) await waitForConnectionCount(appName, 0)
})

/** Two clients of the pool: two client connections to PgBouncer, one server connection behind both. */
async function twoClients(pool: PostgresPool, run: (a: PostgresPoolClient, b: PostgresPoolClient) => Promise<void>): Promise<void> {
  const a = await pool.connect()
  const b = await pool.connect()
  try {
    await run(a, b)
  } finally {
    a.release()
    b.release()
  }
}

test('both clients share one server session', async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    const [first, second] = [await a.query('SELECT pg_backend_pid() AS pid'), await b.query('SELECT pg_backend_pid() AS pid')]
    assert.is(first.rows[0].pid, second.rows[0].pid)
  })
})

test('a session SET by one client is what the other client gets', async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    await a.query("SET statement_timeout = '4321ms'")
    const { rows } = await b.query('SHOW statement_timeout')
    assert.is(rows[0].statement_timeout, '4321ms')
    await b.query('RESET statement_timeout')
  })
})

test("LISTEN by one client shows in the other's session (and its notifications go to whoever is linked)", async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    await a.query('LISTEN lifeguard_orders')
    const { rows } = await b.query('SELECT pg_listening_channels() AS channel')
    assert.equal(rows, [{ channel: 'lifeguard_orders' }])
    await b.query('UNLISTEN *')
  })
})

test('a session advisory lock held by one client is granted to the other too: no mutual exclusion', async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    const first = await a.query('SELECT pg_try_advisory_lock(4242) AS locked')
    const second = await b.query('SELECT pg_try_advisory_lock(4242) AS locked')
    assert.equal([first.rows[0].locked, second.rows[0].locked], [true, true])
    await b.query('SELECT pg_advisory_unlock_all()')
  })
})

test("named prepared statements collide with the other client's (PgBouncer before 1.21, or without max_prepared_statements)", async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    await a.query({ name: 'lifeguard_q', text: 'SELECT 1 AS n' })
    const error = await b.query({ name: 'lifeguard_q', text: 'SELECT 1 AS n' }).then(() => undefined, (reason: Error & { code?: string }) => reason)
    assert.is(error?.code, '42P05', 'prepared statement "lifeguard_q" already exists')
    await b.query('DEALLOCATE ALL')
  })
})

test("a temporary table created by one client is the other client's too", async ({ pool }) => {
  await twoClients(pool, async (a, b) => {
    await a.query('CREATE TEMP TABLE lifeguard_scratch (n int)')
    await a.query('INSERT INTO lifeguard_scratch VALUES (1)')
    const { rows } = await b.query('SELECT count(*)::int AS n FROM lifeguard_scratch')
    assert.equal(rows, [{ n: 1 }])
    await b.query('DROP TABLE lifeguard_scratch')
  })
})

test('a startup parameter such as statement_timeout makes PgBouncer refuse every connection: the caller fails at once', async ({ bouncer }) => {
  const appName = uniqueAppName('pgbouncer-startup')
  const pool = createPostgresPool({ name: 'startup', connectionString: bouncer.connectionString, applicationName: appName, acquireTimeoutMillis: 5000, pg: { statement_timeout: 1000 } })
  const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
  assert.is(error.sqlState, '08P01')
  assert.match(error.message, 'unsupported startup parameter: statement_timeout')
  await pool.close()
})

test.run()
