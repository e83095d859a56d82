import { createServiceContainer, runOperation, type ServiceContainer } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresConnectError, createPostgresPool, registerPostgres, type PostgresPool, type PostgresPoolClient } from '../src/index.js'
import { pgConfig, rejects, uniqueAppName, waitForConnectionCount, startPgBouncer, type PgBouncer } from '@lifeguard/test-kit'
import { sleep, until } from './_helpers/pools.js'

const table = `pgbouncer_orders_${process.pid}`

interface Context {
  bouncer: PgBouncer
  pool: PostgresPool
  appName: string
  container: ServiceContainer
}

const test = suite<Context>('PostgresPool through PgBouncer (transaction pooling)')

async function onServer(text: string): Promise<void> {
  const client = new pg.Client({ ...pgConfig(), application_name: uniqueAppName('pgbouncer-setup') })
  await client.connect()
  await client.query(text)
  await client.end()
}

// PgBouncer's own count of client connections carrying our application_name.
async function bouncerClients(bouncer: PgBouncer, appName: string): Promise<number> {
  const clients = await bouncer.admin('SHOW CLIENTS')
  return clients.filter((row) => row['application_name'] === appName).length
}

test.before(async (context) => {
  await onServer(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`)
  const bouncer = await startPgBouncer({ poolMode: 'transaction' })
  const appName = uniqueAppName('pgbouncer-pool')
  const pool = createPostgresPool({ name: 'bounced', connectionString: bouncer.connectionString, applicationName: appName, maxSize: 4 })
  Object.assign(context, { bouncer, pool, appName, container: registerPostgres(createServiceContainer(), pool) })
})

test.after(async ({ bouncer, pool, appName }) => {
  await pool.close()
  await bouncer.stop()
  await onServer(`DROP TABLE IF EXISTS ${table}`)
  await waitForConnectionCount(appName, 0)
})

test('shows PgBouncer as its target and warms up through it', async ({ bouncer, pool, appName }) => {
  assert.is(pool.target, `postgres://${bouncer.user}@127.0.0.1:${bouncer.port}/${bouncer.database}`)
  const report = await pool.warmup({ connections: 2 })
  assert.is(report.opened, 2)
  assert.is(await bouncerClients(bouncer, appName), 2)
})

test('a database PgBouncer does not know fails the caller at once with PostgresConnectError, not after acquireTimeoutMillis', async ({ bouncer }) => {
  const url = new URL(bouncer.connectionString)
  url.pathname = '/lifeguard_no_such_db'
  const pool = createPostgresPool({ name: 'bounced-nodb', connectionString: url.toString(), acquireTimeoutMillis: 5000 })
  try {
    // PgBouncer says so with 08P01, as it says the passing refusals; a timeout would be a PoolTimeoutError.
    const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
    assert.is(error.sqlState, '08P01')
    assert.match(error.message, 'no such database')
  } finally {
    await pool.close()
  }
})

test('runs parameterized queries with the application_name passed through', async ({ container, appName }) => {
  const { rows } = await runOperation('api', 'GET /', (context) => context.postgres.query<{ app: string; n: number }>("SELECT current_setting('application_name') AS app, $1::int AS n", [5]), { container })
  assert.equal(rows, [{ app: appName, n: 5 }])
})

test('commits and rolls back transactions on one server connection', async ({ container, pool }) => {
  await runOperation('api', 'POST /', async (context) => {
    const pids = await context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (1)`)
      const first = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const second = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      return [first.rows[0]?.pid, second.rows[0]?.pid]
    })
    assert.is(pids[0], pids[1])
    await context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (2)`)
      throw new Error('undo')
    }).catch(() => undefined)
  }, { container })
  const { rows } = await pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)
  assert.equal(rows, [{ id: 1 }])
})

test('reports live metrics: held clients are active, PgBouncer sees the same total', async ({ bouncer, pool, appName }) => {
  const held: PostgresPoolClient[] = []
  for (let i = 0; i < 3; i++) held.push(await pool.connect())
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.activeConnections, 3)
  assert.is(await bouncerClients(bouncer, appName), metrics.totalConnections)
  for (const client of held) client.release()
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  assert.ok(pool.getPoolMetrics().waitTime.count >= 3)
})

test('resizes while running: shrinking closes client connections at PgBouncer, growing serves more', async ({ bouncer, pool, appName }) => {
  await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT pg_sleep(0.01)')))
  assert.is(pool.totalCount, 4)
  pool.resize({ maxSize: 1 })
  await until('the pool to shrink', () => pool.totalCount === 1)
  // PgBouncer notices the closed client connections a moment later.
  let count = await bouncerClients(bouncer, appName)
  for (let attempt = 0; attempt < 100 && count !== 1; attempt++) {
    await sleep(20)
    count = await bouncerClients(bouncer, appName)
  }
  assert.is(count, 1)
  pool.resize({ maxSize: 4 })
  const held = await Promise.all([1, 2, 3, 4].map(() => pool.connect()))
  assert.is(pool.activeCount, 4)
  for (const client of held) client.release()
})

test.run()
