import { PoolTimeoutError, type PoolErrorEvent, type TimeoutEvent } from '@lifeguard/core'
import { createServer, type AddressInfo } from 'node:net'
import { inspect } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DatabaseError } from 'pg'
import { Pool, PostgresConnectError, createPostgresHandle, createPostgresPool } from '../src/index.js'
import { closedPort, pgConfig, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'

const test = suite('PostgresPool secrets')

// The password; one test also sends it as a setting's value, so the server's own error message quotes it.
const secret = 'lifeguard_pw_s3cret'

test('the target shows user, host, port and database, never the password', async () => {
  const port = await closedPort()
  const fromString = createPostgresPool({ name: 'a', connectionString: `postgresql://app:${secret}@127.0.0.1:${port}/orders?sslmode=disable` })
  assert.is(fromString.target, `postgres://app@127.0.0.1:${port}/orders`)
  const fromFields = createPostgresPool({ name: 'b', host: 'db.internal', port: 6432, user: 'svc', password: secret, database: 'billing' })
  assert.is(fromFields.target, 'postgres://svc@db.internal:6432/billing')
  assert.is(String(fromFields), "PostgresPool 'b' (postgres://svc@db.internal:6432/billing)")
  const dropIn = new Pool({ connectionString: `postgresql://app:${secret}@127.0.0.1:${port}/orders`, name: 'c' })
  assert.is(`${dropIn}`, `Pool 'c' (postgres://app@127.0.0.1:${port}/orders)`)
  await dropIn.end()
  for (const pool of [fromString, fromFields]) {
    assert.not.match(inspect(pool, { depth: 5, showHidden: true }), secret)
    assert.not.match(JSON.stringify(pool), secret)
    await pool.close()
  }
})

test('the drop-in Pool: the options keep the password and the connection string out of sight, and readable', async () => {
  const port = await closedPort()
  const connectionString = `postgresql://app:${secret}@127.0.0.1:${port}/orders`
  for (const pool of [new Pool({ connectionString }), new Pool({ host: '127.0.0.1', port, user: 'app', password: secret })]) {
    assert.not.match(inspect(pool.options, { depth: 5 }), secret)
    assert.not.match(inspect(pool, { depth: 5 }), secret)
    assert.not.match(JSON.stringify(pool.options), secret)
    assert.ok(pool.options.connectionString === connectionString || pool.options.password === secret, 'still readable')
    await pool.end()
  }
})

test('errors, events and metrics are scrubbed even when the server quotes the secret', async () => {
  const appName = uniqueAppName('secrets-server')
  const { host, port, user } = pgConfig()
  const errors: PoolErrorEvent[] = []
  const pool = createPostgresPool({
    name: 'quoted',
    connectionString: `postgres://${user}:${secret}@${host}:${port}/${pgConfig().database}`,
    applicationName: appName,
    pg: { options: `-c statement_timeout=${secret}` },
    events: { onError: (e) => void errors.push(e) },
  })
  const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
  assert.match(error.message, 'invalid value for parameter "statement_timeout": "***"')
  assert.not.match(error.message, secret)
  assert.not.match(String((error.cause as Error).message), secret)
  assert.not.match(inspect(error, { depth: 5 }), secret)
  assert.is(errors.length, 1)
  assert.not.match(errors[0]?.error.message ?? '', secret)
  const metrics = pool.getPoolMetrics()
  assert.match(metrics.lastError ?? '', '***')
  assert.not.match(JSON.stringify(metrics), secret)
  await pool.close()
  await waitForConnectionCount(appName, 0)
})

test("a failed statement's error is scrubbed when the server quotes the secret in it, on every query path; its class and fields stay", async () => {
  const appName = uniqueAppName('secrets-statement')
  const { host, port, user, database } = pgConfig()
  const connectionString = `postgres://${user}:${secret}@${host}:${port}/${database}`
  const pool = createPostgresPool({ name: 'quoting', connectionString, applicationName: appName })
  const dropIn = new Pool({ connectionString, application_name: appName })
  // The server quotes a value it cannot read: here the password, as an application might send it by mistake.
  const quoting = 'SELECT $1::text::int'
  const handle = createPostgresHandle(pool)
  const failures = [
    await pool.query(quoting, [secret]).catch((error: unknown) => error),
    await handle.query(quoting, [secret]).catch((error: unknown) => error),
    await handle.transaction((tx) => tx.query(quoting, [secret])).catch((error: unknown) => error),
    await dropIn.query(quoting, [secret]).catch((error: unknown) => error),
    await new Promise((resolve) => dropIn.query(quoting, [secret], (error) => resolve(error))),
  ]
  for (const [i, error] of failures.entries()) {
    assert.instance(error, DatabaseError, `path ${i}`)
    assert.is((error as DatabaseError).code, '22P02', `path ${i}`)
    assert.match((error as Error).message, 'invalid input syntax for type integer: "***"', `path ${i}`)
    assert.not.match(inspect(error, { depth: 5 }), secret, `path ${i}`)
  }
  // An error that quotes nothing secret is the driver's own object, untouched.
  const plain = await pool.query('SELECT $1::text::int', ['twelve']).catch((error: unknown) => error)
  assert.match((plain as Error).message, '"twelve"')
  await handle.dispose()
  await pool.close()
  await dropIn.end()
  await waitForConnectionCount(appName, 0)
})

test("a failed statement's naming fields stay as the server sent them, also when the password is a part of a name", async () => {
  const appName = uniqueAppName('secrets-naming')
  const { host, port, user, database } = pgConfig()
  // A short password, as in development: a part of the table's and the constraint's names.
  const password = 'ordrs'
  const table = `ordrs_secrets_${process.pid}`
  const pool = createPostgresPool({ name: 'naming', connectionString: `postgres://${user}:${password}@${host}:${port}/${database}`, applicationName: appName })
  try {
    await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`)
    await pool.query(`INSERT INTO ${table} VALUES (1) ON CONFLICT DO NOTHING`)
    const error = (await pool.query(`INSERT INTO ${table} VALUES (1)`).catch((failure: unknown) => failure)) as DatabaseError
    assert.instance(error, DatabaseError)
    assert.equal([error.code, error.constraint, error.table], ['23505', `${table}_pkey`, table], 'code can branch on them')
    // The text is scrubbed all the same: it might quote the password as a value.
    assert.not.match(error.message, password)
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await pool.close()
    await waitForConnectionCount(appName, 0)
  }
})

// A server that asks for a cleartext password and refuses it, quoting what it got (as a proxy might).
async function passwordQuotingServer(): Promise<{ port: number; close(): Promise<void> }> {
  const message = (type: string, body: Buffer): Buffer => {
    const length = Buffer.alloc(4)
    length.writeInt32BE(body.length + 4)
    return Buffer.concat([Buffer.from(type), length, body])
  }
  const server = createServer((socket) => {
    socket.on('error', () => undefined)
    let startup = true
    socket.on('data', (chunk) => {
      if (startup) {
        startup = false
        // AuthenticationCleartextPassword
        socket.write(message('R', Buffer.from([0, 0, 0, 3])))
        return
      }
      if (chunk[0] !== 0x70) return
      const sent = chunk.subarray(5, chunk.indexOf(0, 5)).toString()
      // Quoted as sent and as a URL would carry it.
      const fields = [['S', 'FATAL'], ['V', 'FATAL'], ['C', '28P01'], ['M', `password authentication failed: you sent "${sent}" (${encodeURIComponent(sent)})`]]
      socket.end(message('E', Buffer.concat([...fields.map(([key, value]) => Buffer.from(`${key}${value}\0`)), Buffer.from([0])])))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) }
}

test('a password from a function (rotating credentials) is scrubbed as a string one is, sync or async', async () => {
  const server = await passwordQuotingServer()
  try {
    for (const [label, password] of [['sync', () => 'rotated_pw_sync1'], ['async', async () => 'rotated_pw_async2']] as const) {
      const errors: PoolErrorEvent[] = []
      const pool = createPostgresPool({ name: `rotating-${label}`, host: '127.0.0.1', port: server.port, user: 'app', database: 'orders', password, events: { onError: (e) => void errors.push(e) } })
      const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
      const quoted = label === 'sync' ? 'rotated_pw_sync1' : 'rotated_pw_async2'
      assert.match(error.message, 'you sent "***"', 'the server did quote it')
      const everything = [error.message, inspect(error, { depth: 5 }), ...errors.map((e) => inspect(e.error, { depth: 5 })), JSON.stringify(pool.getPoolMetrics())].join('\n')
      assert.not.match(everything, quoted)
      assert.ok(errors.length >= 1)
      await pool.close()
    }
  } finally {
    await server.close()
  }
})

test('a password with characters a URL encodes is scrubbed in both forms, however it is given', async () => {
  const server = await passwordQuotingServer()
  const password = 'p@ss:w/rd#?%x'
  const encoded = encodeURIComponent(password)
  try {
    const givens = [['option', password], ['function', () => password], ['connection string', undefined]] as const
    for (const [label, given] of givens) {
      const errors: PoolErrorEvent[] = []
      const where = { host: '127.0.0.1', port: server.port, user: 'app', database: 'orders' }
      const pool =
        given === undefined
          ? createPostgresPool({ name: `encoded-${label}`, connectionString: `postgres://app:${encoded}@127.0.0.1:${server.port}/orders`, events: { onError: (e) => void errors.push(e) } })
          : createPostgresPool({ name: `encoded-${label}`, ...where, password: given, events: { onError: (e) => void errors.push(e) } })
      const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
      assert.match(error.message, 'you sent "***" (***)', label)
      const everything = [error.message, inspect(error, { depth: 5 }), ...errors.map((e) => inspect(e.error, { depth: 5 })), JSON.stringify(pool.getPoolMetrics())].join('\n')
      assert.not.match(everything, encoded, label)
      assert.not.match(everything, password, label)
      await pool.close()
    }
  } finally {
    await server.close()
  }
})

test('a timeout cause and its event carry the redacted connect error', async () => {
  const port = await closedPort()
  const timeouts: TimeoutEvent[] = []
  const pool = createPostgresPool({ name: 'refused', host: '127.0.0.1', port, user: 'app', password: secret, acquireTimeoutMillis: 100, events: { onTimeout: (e) => void timeouts.push(e) } })
  const error = await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.not.match(inspect(error, { depth: 5 }), secret)
  assert.is(timeouts.length, 1)
  assert.match(timeouts[0]?.cause?.message ?? '', 'ECONNREFUSED')
  assert.not.match(inspect(timeouts[0], { depth: 5 }), secret)
  await pool.close()
})

test.run()
