import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  startPgBouncer,
  supportsMaxPreparedStatements,
  type PgBouncer,
  blackholeServer,
  closedPort,
  pgConfig,
  serverConnectionCount,
  terminateBackends,
  uniqueAppName,
  waitForConnectionCount,
} from '../src/index.js'

async function failure(promise: Promise<unknown>): Promise<Error & { code?: string }> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  )
  assert.instance(error, Error, 'Expected the promise to reject with an Error')
  return error as Error & { code?: string }
}

const table = `pgbouncer_helper_${process.pid}`

const bouncer = suite<{ bouncer?: PgBouncer }>('startPgBouncer')

bouncer.before(async (context) => {
  const setup = new pg.Client({ ...pgConfig(), application_name: uniqueAppName('pgbouncer-setup') })
  await setup.connect()
  await setup.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`)
  await setup.end()
  context.bouncer = await startPgBouncer({ poolMode: 'transaction' })
})

bouncer.after(async (context) => {
  await context.bouncer?.stop()
  const teardown = new pg.Client({ ...pgConfig(), application_name: uniqueAppName('pgbouncer-teardown') })
  await teardown.connect()
  await teardown.query(`DROP TABLE IF EXISTS ${table}`)
  await teardown.end()
})

bouncer('answers a query on its own port with the application_name passed through', async ({ bouncer }) => {
  assert.ok(bouncer)
  assert.is.not(bouncer.port, pgConfig().port)
  const appName = uniqueAppName('pgbouncer-query')
  const client = new pg.Client({ ...bouncer.config, application_name: appName })
  await client.connect()
  const { rows } = await client.query<{ answer: number; app: string }>(
    "SELECT 41 + 1 AS answer, current_setting('application_name') AS app",
  )
  await client.end()
  assert.equal(rows, [{ answer: 42, app: appName }])
  await bouncer.closeServerConnections()
  await waitForConnectionCount(appName, 0)
})

bouncer('accepts its connection string and runs in transaction pool mode', async ({ bouncer }) => {
  assert.ok(bouncer)
  assert.match(bouncer.connectionString, `@127.0.0.1:${bouncer.port}/`)
  const pools = await bouncer.admin('SHOW POOLS')
  assert.ok(pools.some((row) => row['database'] === bouncer.database && row['pool_mode'] === 'transaction'))
  const client = new pg.Client({ connectionString: bouncer.connectionString })
  await client.connect()
  const { rows } = await client.query<{ one: number }>('SELECT 1 AS one')
  await client.end()
  assert.equal(rows, [{ one: 1 }])
})

bouncer('keeps a transaction on one server connection, rolling back and committing', async ({ bouncer }) => {
  assert.ok(bouncer)
  const appName = uniqueAppName('pgbouncer-tx')
  const client = new pg.Client({ ...bouncer.config, application_name: appName })
  await client.connect()
  await client.query('BEGIN')
  await client.query(`INSERT INTO ${table} (id) VALUES (1)`)
  const inside = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${table}`)
  await client.query('ROLLBACK')
  const afterRollback = await client.query<{ count: number }>(`SELECT count(*)::int AS count FROM ${table}`)
  await client.query('BEGIN')
  const first = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  await client.query(`INSERT INTO ${table} (id) VALUES (2)`)
  const second = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  await client.query('COMMIT')
  const afterCommit = await client.query<{ ids: number[] }>(`SELECT array_agg(id) AS ids FROM ${table}`)
  await client.end()
  assert.is(inside.rows[0]?.count, 1)
  assert.is(afterRollback.rows[0]?.count, 0)
  assert.is(first.rows[0]?.pid, second.rows[0]?.pid)
  assert.equal(afterCommit.rows[0]?.ids, [2])
  await bouncer.closeServerConnections()
  await waitForConnectionCount(appName, 0)
})

bouncer('holds server connections for an application_name until it stops', async () => {
  const own = await startPgBouncer({ poolMode: 'transaction' })
  const appName = uniqueAppName('pgbouncer-stop')
  const clients = [1, 2, 3].map(() => new pg.Client({ ...own.config, application_name: appName }))
  try {
    await Promise.all(clients.map((client) => client.connect()))
    // Concurrent transactions need one server connection each.
    await Promise.all(clients.map((client) => client.query('SELECT pg_sleep(0.05)')))
    assert.ok((await serverConnectionCount(appName)) >= 1)
    await Promise.all(clients.map((client) => client.end()))
    // Transaction pooling keeps the server connections after the clients leave...
    assert.ok((await serverConnectionCount(appName)) >= 1)
  } finally {
    await own.stop()
  }
  // ...and stopping PgBouncer closes them, and frees its port.
  await waitForConnectionCount(appName, 0)
  const late = new pg.Client({ ...own.config, connectionTimeoutMillis: 1000 })
  const error = await failure(late.connect())
  assert.is(error.code, 'ECONNREFUSED')
})

bouncer('serves named prepared statements when maxPreparedStatements is supported', async () => {
  if (!(await supportsMaxPreparedStatements())) {
    const error = await failure(startPgBouncer({ poolMode: 'transaction', maxPreparedStatements: 10 }))
    assert.match(error.message, 'needs PgBouncer 1.21 or later')
    return
  }
  const own = await startPgBouncer({ poolMode: 'transaction', maxPreparedStatements: 10 })
  const client = new pg.Client(own.config)
  try {
    await client.connect()
    const query = { name: 'helper-plus-one', text: 'SELECT $1::int + 1 AS n', values: [1] }
    const results = [await client.query<{ n: number }>(query), await client.query<{ n: number }>(query)]
    assert.equal(results.map((result) => result.rows[0]?.n), [2, 2])
  } finally {
    await client.end()
    await own.stop()
  }
})

bouncer.run()

const server = suite('pg-server helpers')

server('pgConfig defaults to the local test server', () => {
  const config = pgConfig()
  assert.type(config.host, 'string')
  assert.type(config.port, 'number')
  assert.ok(config.port > 0)
  assert.ok(config.user.length > 0)
  assert.ok(config.database.length > 0)
})

server('uniqueAppName is unique and fits the 63 bytes PostgreSQL keeps', () => {
  const names = new Set(Array.from({ length: 100 }, () => uniqueAppName('x'.repeat(80))))
  assert.is(names.size, 100)
  for (const name of names) assert.ok(name.length <= 63, name)
  assert.match(uniqueAppName('pool-resize'), /^pool-resize-/)
  assert.throws(() => uniqueAppName(''), /printable ASCII/)
})

server('serverConnectionCount sees connections for an application_name, then none', async () => {
  const appName = uniqueAppName('count')
  assert.is(await serverConnectionCount(appName), 0)
  const clients = [1, 2].map(() => new pg.Client({ ...pgConfig(), application_name: appName }))
  await Promise.all(clients.map((client) => client.connect()))
  assert.is(await serverConnectionCount(appName), 2)
  await Promise.all(clients.map((client) => client.end()))
  await waitForConnectionCount(appName, 0)
  assert.is(await serverConnectionCount(appName), 0)
})

server('waitForConnectionCount names both counts when it gives up', async () => {
  const appName = uniqueAppName('wait')
  const error = await failure(waitForConnectionCount(appName, 1, 100))
  assert.match(error.message, 'Expected 1 server connections')
  assert.match(error.message, `'${appName}', still 0 after 100ms`)
})

server('terminateBackends drops only the backends in the given state', async () => {
  const appName = uniqueAppName('terminate')
  const idle = new pg.Client({ ...pgConfig(), application_name: appName })
  const busy = new pg.Client({ ...pgConfig(), application_name: appName })
  const dropped = new Promise<Error>((resolve) => idle.on('error', resolve))
  const busyDropped = new Promise<Error>((resolve) => busy.on('error', resolve))
  await Promise.all([idle.connect(), busy.connect()])
  const sleeping = busy.query('SELECT pg_sleep(0.3)')
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.is(await terminateBackends(appName, { state: 'idle' }), 1)
  assert.match((await dropped).message, /terminat/i)
  await sleeping // the active backend was left alone
  await waitForConnectionCount(appName, 1)
  assert.is(await terminateBackends(appName), 1)
  assert.match((await busyDropped).message, /terminat/i)
  await waitForConnectionCount(appName, 0)
  await Promise.allSettled([idle.end(), busy.end()])
})

server('blackholeServer accepts and never answers, so a connect times out', async () => {
  const hole = await blackholeServer()
  try {
    const client = new pg.Client({ host: hole.host, port: hole.port, user: 'nobody', connectionTimeoutMillis: 200 })
    const error = await failure(client.connect())
    assert.match(error.message, /timeout/i)
    assert.is(hole.connections(), 1)
  } finally {
    await hole.close()
  }
  await hole.close() // idempotent
})

server('closedPort refuses connections', async () => {
  const port = await closedPort()
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'nobody', connectionTimeoutMillis: 1000 })
  const error = await failure(client.connect())
  assert.is(error.code, 'ECONNREFUSED')
})

server.run()
