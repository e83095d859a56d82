import { InvalidOptionError, OperationContext, createServiceContainer, runOperation } from '@lifeguard/core'
import pg from 'pg'
import QueryStream from 'pg-query-stream'
import Cursor from 'pg-cursor'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool, PostgresQueryTimeoutError, PostgresRollbackError, registerPostgres, type PostgresPool } from '../src/index.js'
import { ManualClock, pgConfig, rejects, throwsError, serverConnectionCount, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, settlesWithin, testPool, until } from './_helpers/pools.js'
import { untilRunning, untilStopped } from './_helpers/server-statements.js'
import { silentProxy } from './_helpers/silent-proxy.js'
import { lateCancelProxy } from './_helpers/late-cancel-proxy.js'

// pg's `query_timeout` only stops pg waiting: the server ran the statement to its end, holding a session
// (and its locks) that the pool no longer counted. These check that the statement is stopped there too.
const test = suite('query_timeout: the statement stops on the server, the caller gets a typed error')

const table = `query_timeout_${process.pid}`

test.before(async () => {
  const { pool, appName } = testPool('query-timeout-setup', { maxSize: 1 })
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, n int)`)
  await pool.query(`INSERT INTO ${table} (id, n) VALUES (1, 0) ON CONFLICT (id) DO UPDATE SET n = 0`)
  await closeAndCheck(pool, appName)
})

test.after(async () => {
  const { pool, appName } = testPool('query-timeout-teardown', { maxSize: 1 })
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

function assertTimeout(error: unknown, pool: string, timeoutMillis: number, mayHaveCommitted: boolean): void {
  assert.instance(error, PostgresQueryTimeoutError)
  const timeout = error as PostgresQueryTimeoutError
  assert.is(timeout.code, 'ERR_POSTGRES_QUERY_TIMEOUT')
  assert.is(timeout.name, 'PostgresQueryTimeoutError')
  assert.is(timeout.pool, pool)
  assert.is(timeout.timeoutMillis, timeoutMillis)
  assert.is(timeout.mayHaveCommitted, mayHaveCommitted)
  // pg's own words stay in the message, for code that looked for them.
  assert.match(timeout.message, 'Query read timeout')
  assert.match(timeout.message, `query_timeout (${timeoutMillis} ms)`)
  assert.is((timeout.cause as Error).message, 'Query read timeout')
}

test('a query past the pool-wide query_timeout is cancelled on the server, and its connection closed, never reused', async () => {
  const { pool, appName } = testPool('query-timeout-pool', { maxSize: 1, pg: { query_timeout: 150 } })
  const baseline = await serverConnectionCount(appName)
  const { rows: before } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const error = await rejects(pool.query('SELECT pg_sleep(30) /* qt-pool */'), PostgresQueryTimeoutError)
  assertTimeout(error, 'query-timeout-pool', 150, true)
  await untilStopped(appName, 'qt-pool')
  // A cancel request still on its way could stop another holder's statement: the next query gets a new session.
  const { rows: after } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  assert.is.not(after[0]?.pid, before[0]?.pid)
  assert.is(pool.totalCount, 1)
  assert.is(pool.activeCount, 0)
  await pool.close()
  await waitForConnectionCount(appName, baseline)
})

test('a single query that timed out inside a transaction it began leaves no transaction to the next caller', async () => {
  const { pool, appName } = testPool('query-timeout-begin', { maxSize: 1, pg: { query_timeout: 150 } })
  const baseline = await serverConnectionCount(appName)
  await rejects(pool.query(`BEGIN; UPDATE ${table} SET n = n + 1 WHERE id = 1; SELECT pg_sleep(30) /* qt-begin */`), PostgresQueryTimeoutError)
  await untilStopped(appName, 'qt-begin')
  // The next caller is outside any transaction: its write is its own, and it stays.
  await pool.query(`UPDATE ${table} SET n = 5 WHERE id = 1`)
  const { rows } = await pool.query<{ n: number; inTransaction: boolean }>(`SELECT n, now() <> statement_timestamp() AS "inTransaction" FROM ${table} WHERE id = 1`)
  assert.equal(rows, [{ n: 5, inTransaction: false }])
  await pool.query(`UPDATE ${table} SET n = 0 WHERE id = 1`)
  await pool.close()
  await waitForConnectionCount(appName, baseline)
})

test('a statement a holder left running when it gave its client back still runs to its end, as with pg.Pool', async () => {
  const { pool, appName } = testPool('query-timeout-left-running', { maxSize: 1 })
  const baseline = await serverConnectionCount(appName)
  const client = await pool.connect()
  // pg's end() cuts its side at once ('Connection terminated'); the server is not asked to cancel anything.
  const left = client.query(`SELECT pg_sleep(0.3); UPDATE ${table} SET n = 7 WHERE id = 1 /* qt-left */`).catch(() => undefined)
  await untilRunning(appName, 'qt-left')
  client.release(true)
  await left
  await untilStopped(appName, 'qt-left')
  const { rows } = await pool.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 1`)
  assert.equal(rows, [{ n: 7 }])
  await pool.query(`UPDATE ${table} SET n = 0 WHERE id = 1`)
  await pool.close()
  await waitForConnectionCount(appName, baseline)
})

test("pg's own 'off' values are taken, and a value pg's timer would misread is refused", async () => {
  for (const off of [false, null, 0]) {
    const { pool, appName } = testPool('query-timeout-off', { maxSize: 1, pg: { query_timeout: off as unknown as number } })
    assert.equal((await pool.query('SELECT pg_sleep(0.2), 1 AS n')).rows[0]?.n, 1)
    await closeAndCheck(pool, appName)
  }
  // Node's setTimeout fires at once for these: every query would time out.
  for (const bad of ['5s', 2 ** 32, -1]) {
    const error = throwsError(() => testPool('query-timeout-bad', { pg: { query_timeout: bad as number } }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'pg.query_timeout')
  }
})

test("a query config's own query_timeout is the one applied and named", async () => {
  const { pool, appName } = testPool('query-timeout-config', { maxSize: 1 })
  const baseline = await serverConnectionCount(appName)
  const error = await rejects(pool.query({ text: 'SELECT pg_sleep(30) /* qt-config */', query_timeout: 120 } as pg.QueryConfig), PostgresQueryTimeoutError)
  assertTimeout(error, 'query-timeout-config', 120, true)
  await untilStopped(appName, 'qt-config')
  assert.equal((await pool.query('SELECT 1 AS n')).rows, [{ n: 1 }])
  await pool.close()
  await waitForConnectionCount(appName, baseline)
})

test("a query config's own query_timeout that pg's timer would misread, or no query at all, is refused at once, on every way in", async () => {
  const { pool, appName } = testPool('query-timeout-own-bad', { maxSize: 1 })
  const baseline = await serverConnectionCount(appName)
  const dropIn = new Pool({ connectionString: `postgres://${pgConfig().user}@${pgConfig().host}:${pgConfig().port}/${pgConfig().database}`, application_name: appName, max: 1 })
  const container = registerPostgres(createServiceContainer(), pool)
  const context = OperationContext.create('api', 'own-timeout', { container })
  // Each pool's only connection is held: a refusal that waited for a checkout would not come.
  const held = await pool.connect()
  const heldDropIn = await dropIn.connect()
  const refusedBadTimeout = (error: unknown): void => {
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).option, 'query_timeout')
    assert.match((error as Error).message, 'between 0 and')
  }
  for (const bad of [2 ** 31, '5s', -5, Number.NaN]) {
    const text = { text: 'SELECT 1', query_timeout: bad } as unknown as pg.QueryConfig
    refusedBadTimeout(await rejects(pool.query(text), InvalidOptionError))
    refusedBadTimeout(await rejects(context.postgres.query(text), InvalidOptionError))
    refusedBadTimeout(await rejects(dropIn.query(text), InvalidOptionError))
    refusedBadTimeout(await new Promise<unknown>((resolve) => dropIn.query(text, (error) => resolve(error))))
  }
  for (const notAQuery of [undefined, 42]) {
    const error = await rejects(pool.query(notAQuery as unknown as string), InvalidOptionError)
    assert.is(error.option, 'text')
    assert.is((await rejects(dropIn.query(notAQuery as unknown as string), InvalidOptionError)).option, 'text')
  }
  held.release()
  heldDropIn.release()
  // In a transaction: refused, and the transaction goes on.
  const rows = await context.postgres.transaction(async (tx) => {
    refusedBadTimeout(await rejects(tx.query({ text: 'SELECT 1', query_timeout: 2 ** 31 } as pg.QueryConfig), InvalidOptionError))
    return (await tx.query({ text: 'SELECT 2 AS n', query_timeout: 5000 } as pg.QueryConfig)).rows
  })
  assert.equal(rows, [{ n: 2 }])
  await context.dispose()
  await dropIn.end()
  await closeAndCheck(pool, appName)
  assert.is(await serverConnectionCount(appName), baseline)
})

test('the next caller of a one-connection pool is served once the cancelled statement has ended, not after it would have', async () => {
  const { pool, appName } = testPool('query-timeout-next', { maxSize: 1, acquireTimeoutMillis: 20_000, pg: { query_timeout: 150 } })
  const baseline = await serverConnectionCount(appName)
  const first = rejects(pool.query('SELECT pg_sleep(30) /* qt-next */'), PostgresQueryTimeoutError)
  await untilRunning(appName, 'qt-next')
  // Queued for the one connection while the first statement runs; pg's 30 s would outlast its 20 s wait.
  const second = pool.query<{ n: number }>('SELECT 2 AS n')
  assert.instance(await first, PostgresQueryTimeoutError)
  assert.equal((await second).rows, [{ n: 2 }])
  await untilStopped(appName, 'qt-next')
  await pool.close()
  await waitForConnectionCount(appName, baseline)
})

test('a transaction statement past query_timeout is cancelled, and the transaction rolls back at once', async () => {
  const { pool, appName } = testPool('query-timeout-tx', { maxSize: 1, pg: { query_timeout: 300 } })
  const baseline = await serverConnectionCount(appName)
  const container = registerPostgres(createServiceContainer(), pool)
  const context = OperationContext.create('api', 'tx-timeout', { container })
  const startedAt = Date.now()
  const error = await rejects(
    context.postgres.transaction(async (tx) => {
      await tx.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`)
      await tx.query('SELECT pg_sleep(30) /* qt-tx */')
    }),
    PostgresQueryTimeoutError,
  )
  // The ROLLBACK no longer queues behind the statement (it would itself time out, and the connection close).
  assert.ok(Date.now() - startedAt < 10_000, `the transaction took ${Date.now() - startedAt} ms`)
  assertTimeout(error, 'query-timeout-tx', 300, false)
  await untilStopped(appName, 'qt-tx')
  // Rolled back: the row is unchanged and unlocked, and the connection went back to the pool.
  assert.equal((await pool.query(`SELECT n FROM ${table} WHERE id = 1`)).rows, [{ n: 0 }])
  assert.is(pool.totalCount, 1)
  await context.dispose()
  await closeAndCheck(pool as PostgresPool, appName)
  assert.is(await serverConnectionCount(appName), baseline)
})

test('the drop-in Pool gives the typed error too', async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('query-timeout-drop-in')
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1, query_timeout: 150 })
  const error = await new Promise<unknown>((resolve) => pool.query('SELECT pg_sleep(30) /* qt-drop-in */', (failure) => resolve(failure)))
  assertTimeout(error, appName, 150, true)
  await untilStopped(appName, 'qt-drop-in')
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test('a checked-out client given back with the error pg raised has its statement cancelled as its connection closes', async () => {
  const { pool, appName } = testPool('query-timeout-client', { maxSize: 1, pg: { query_timeout: 150 } })
  const baseline = await serverConnectionCount(appName)
  const client = await pool.connect()
  // pg's own error: on a client the caller holds, its queries are pg's.
  const error = await rejects(client.query('SELECT pg_sleep(30) /* qt-client */'), Error)
  assert.is(error.message, 'Query read timeout')
  client.release(error)
  await untilStopped(appName, 'qt-client')
  await until('the connection closed', () => pool.totalCount === 0)
  await waitForConnectionCount(appName, baseline)
  await pool.close()
})

test('a checked-out client given back plainly (no error) after pg raised query_timeout: its statement is cancelled and its connection closed, not held until the statement ends', async () => {
  const clock = new ManualClock()
  const { pool, appName } = testPool('query-timeout-plain-release', { maxSize: 1, clock, pg: { query_timeout: 150 } })
  const baseline = await serverConnectionCount(appName)
  const client = await pool.connect()
  const error = await rejects(client.query('SELECT pg_sleep(30) /* qt-plain */'), Error)
  assert.is(error.message, 'Query read timeout')
  // pg's documented pattern: `finally { client.release() }`, the error not passed on.
  client.release()
  // Released with its statement still running: held until the statement ends or the client's query_timeout has
  // passed since the release (pg failed it by then).
  assert.is(pool.activeCount, 1, 'held while its statement may still end')
  await clock.advance(150)
  // Before: held until the server ended the statement (30 s here; a lock wait, never), and never cancelled.
  await untilStopped(appName, 'qt-plain')
  await until('the connection closed', () => pool.totalCount === 0)
  await waitForConnectionCount(appName, baseline)
  await pool.close()
})

test("a statement given its own, longer query_timeout and left running by a plain release() runs to its end, its connection kept", async () => {
  const clock = new ManualClock()
  const { pool, appName } = testPool('query-timeout-own-longer', { maxSize: 1, clock, pg: { query_timeout: 150 } })
  const client = await pool.connect()
  const running = client.query({ text: 'SELECT pg_sleep(0.5) AS slept /* qt-own-longer */', query_timeout: 60_000 } as pg.QueryConfig)
  await untilRunning(appName, 'qt-own-longer')
  client.release()
  // Past the client's own query_timeout since the release, and past an end grace: pg has not given up on it.
  await clock.advance(150)
  await clock.advance(2_000)
  const { rows } = await running
  assert.equal(rows, [{ slept: '' }])
  await until('the client back in the pool', () => pool.activeCount === 0)
  assert.equal([pool.totalCount, pool.idleCount], [1, 1], 'kept')
  await closeAndCheck(pool, appName)
})

test('a server gone silent: the timed-out connection is given up at once, and closed within the end grace', async () => {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  try {
    const clock = new ManualClock()
    const { pool, appName } = testPool('query-timeout-silent', { host: proxy.host, port: proxy.port, maxSize: 1, clock, pg: { query_timeout: 150 } })
    await pool.query('SELECT 1')
    // A partition: nothing reaches the server any more, and nothing comes back.
    proxy.silence()
    await rejects(pool.query('SELECT 1 AS silent'), PostgresQueryTimeoutError, 'ERR_POSTGRES_QUERY_TIMEOUT')
    assert.is(pool.activeCount, 0, 'not held for a statement that may never end')
    // The proxy's end fails the cancel requests it would swallow; the end grace destroys the socket.
    await proxy.close()
    await clock.advance(2_000)
    await until('the connection closed', () => pool.totalCount === 0)
    assert.is(pool.getPoolMetrics().totalConnections, 0)
    await pool.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test("a transaction statement past its own query_timeout on a server gone silent: transaction() settles, and its connection is closed, with no ROLLBACK queued behind the statement", async () => {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  try {
    // Each statement as it is handed to pg, a ROLLBACK queued behind the silent one included (a `query` event
    // comes only once a statement settles, and such a ROLLBACK never would).
    const sent: string[] = []
    const spy = (client: pg.ClientBase): void => {
      const query = client.query
      client.query = function spiedQuery(this: pg.ClientBase, ...args: unknown[]): unknown {
        const text = args[0]
        sent.push(typeof text === 'string' ? text : String((text as { text?: unknown } | null)?.text))
        return Reflect.apply(query, this, args)
      } as typeof client.query
    }
    // A manual clock that never moves: nothing may wait for a timer of the pool's.
    const { pool, appName } = testPool('query-timeout-tx-silent', {
      host: proxy.host,
      port: proxy.port,
      maxSize: 1,
      clock: new ManualClock(),
      pg: { onConnect: spy },
    })
    const container = registerPostgres(createServiceContainer(), pool)
    const transaction = runOperation('api', 'tx-silent', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SELECT 1')
        // A partition: the statement, and its cancel request, never reach the server, and nothing comes back.
        proxy.silence()
        await tx.query({ text: 'SELECT 2 AS silent', query_timeout: 150 } as pg.QueryConfig)
      }), { container })
    // Before, the ROLLBACK waited behind the statement pg had given up on, for good, holding the connection.
    const settled = await settlesWithin('transaction()', transaction).then(() => undefined, (failure: unknown) => failure)
    // Checked first: a ROLLBACK sent is the fault, a transaction() that never settles its symptom.
    assert.ok(sent.includes('SELECT 2 AS silent'), sent.join(', '))
    assert.not.ok(sent.includes('ROLLBACK'), sent.join(', '))
    assertTimeout(settled, 'query-timeout-tx-silent', 150, false)
    assert.is(pool.activeCount, 0)
    await until('the connection closed', () => pool.totalCount === 0)
    // The partition heals: the server's side of the session, idle in its transaction, ends (and rolls back).
    await proxy.close()
    await pool.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test('a transaction statement with a row limit past its query_timeout: the timeout stays the reason, in transaction() and in why its connection was closed', async () => {
  const errors: string[] = []
  const { pool, appName } = testPool('query-timeout-tx-rows', { maxSize: 1, events: { onError: (event) => void errors.push(event.error.message) } })
  const container = registerPostgres(createServiceContainer(), pool)
  const statement = { text: 'SELECT pg_sleep(30) /* qt-tx-rows */', rows: 10, query_timeout: 150 } as pg.QueryConfig
  // Caught in fn. Before: 'statement-failed', as if the server had refused a statement with a row limit.
  const caught = await rejects(
    settlesWithin(
      'transaction()',
      runOperation('api', 'tx-rows-caught', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(statement).catch(() => undefined)
          return 'looks fine'
        }), { container }),
    ),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  assert.is(caught.reason, 'query-timeout')
  assert.instance(caught.cause, PostgresQueryTimeoutError)
  // Thrown from fn. Before, its connection was reported closed for a failed query with a row limit.
  const thrown = await rejects(
    settlesWithin('transaction()', runOperation('api', 'tx-rows-thrown', (context) => context.postgres.transaction(async (tx) => void (await tx.query(statement))), { container })),
    PostgresQueryTimeoutError,
    'ERR_POSTGRES_QUERY_TIMEOUT',
  )
  assertTimeout(thrown, 'query-timeout-tx-rows', 150, false)
  await untilStopped(appName, 'qt-tx-rows')
  const reported = errors.join('\n')
  assert.match(reported, 'ran past query_timeout')
  assert.not.match(reported, 'row limit')
  assert.is(pool.activeCount, 0)
  await closeAndCheck(pool, appName)
})

test('the drop-in Pool: a stream past query_timeout fails at once with the typed error, its statement cancelled', async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('query-timeout-stream')
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1, query_timeout: 150 })
  const stream = pool.query(new QueryStream('SELECT pg_sleep(30) /* qt-stream */'))
  const error = await new Promise<unknown>((resolve) => {
    stream.on('error', resolve)
    stream.resume()
  })
  assertTimeout(error, appName, 150, true)
  await untilStopped(appName, 'qt-stream')
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test("the drop-in Pool: a cursor done before its query_timeout leaves the next caller's statement alone", async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('query-timeout-cursor')
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1, query_timeout: 300 })
  const cursor = pool.query(new Cursor('SELECT 1 AS n'))
  assert.equal(await cursor.read(10), [{ n: 1 }])
  await cursor.close()
  // pg-cursor leaves pg's timer set: it fires while this statement runs on the same connection.
  const { rows } = await pool.query<{ n: number }>({ text: 'SELECT pg_sleep(0.6), 2 AS n', query_timeout: 5_000 } as pg.QueryConfig)
  assert.is(rows[0]?.n, 2)
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test('a transaction whose callback caught a query_timeout is rolled back, never committed, however late the cancel lands', async () => {
  const { host, port } = pgConfig()
  // The cancel request reaches the server after the statement has finished by itself.
  const proxy = await lateCancelProxy({ host, port }, 1_000)
  try {
    const { pool, appName } = testPool('query-timeout-tx-caught', { host: proxy.host, port: proxy.port, maxSize: 1, pg: { query_timeout: 200 } })
    const container = registerPostgres(createServiceContainer(), pool)
    const context = OperationContext.create('api', 'tx-caught', { container })
    const caught: unknown[] = []
    await rejects(
      context.postgres.transaction(async (tx) => {
        await tx.query(`UPDATE ${table} SET n = 42 WHERE id = 1 RETURNING pg_sleep(0.4)`).catch((error: unknown) => void caught.push(error))
      }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    assert.instance(caught[0], PostgresQueryTimeoutError)
    assert.is((caught[0] as PostgresQueryTimeoutError).mayHaveCommitted, false)
    const { rows } = await pool.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 1`)
    assert.equal(rows, [{ n: 0 }], 'nothing of it took effect')
    await context.dispose()
    await pool.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test.run()
