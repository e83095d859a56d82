import { InvalidOptionError, OperationContext, PoolClosedError, PoolTimeoutError, createPoolRegistry, createServiceContainer, runOperation } from '@lifeguard/core'
import { AsyncResource } from 'node:async_hooks'
import connectPgSimple from 'connect-pg-simple'
import session from 'express-session'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { inspect } from 'node:util'
import { Pool, PostgresRollbackError, type PoolConfig } from '../src/index.js'
import { captureWarnings, pgConfig, serverConnectionCount, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { until } from './_helpers/pools.js'

const test = suite('Pool: a drop-in pg.Pool')

/** A pool as a pg user writes one: pg's option names, a connection string. */
function pgStylePool(topic: string, config: Partial<PoolConfig> = {}): { pool: Pool; appName: string } {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName(topic)
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 3, ...config })
  return { pool, appName }
}

async function ended(pool: Pool, appName: string): Promise<void> {
  if (!pool.ending) await pool.end()
  await waitForConnectionCount(appName, 0)
}

test('takes a plain pg config, and answers connect/query/end in callback and promise forms', async () => {
  const { pool, appName } = pgStylePool('drop-in-forms')
  assert.is(pool.name, appName, 'named after application_name')
  const { rows } = await pool.query<{ n: number }>('SELECT $1::int AS n', [1])
  assert.equal(rows, [{ n: 1 }])
  const viaCallback = await new Promise<unknown>((resolve, reject) => pool.query('SELECT 2 AS n', (error, result) => (error ? reject(error) : resolve(result.rows))))
  assert.equal(viaCallback, [{ n: 2 }])
  const client = await new Promise<pg.PoolClient>((resolve, reject) =>
    pool.connect((error, client, done) => {
      if (error !== undefined || client === undefined) return reject(error)
      assert.type(done, 'function')
      resolve(client)
    }),
  )
  assert.equal((await client.query('SELECT 3 AS n')).rows, [{ n: 3 }])
  client.release()
  assert.equal([pool.totalCount, pool.idleCount, pool.waitingCount, pool.expiredCount], [1, 1, 0, 0])
  await new Promise<void>((resolve) => pool.end(() => resolve()))
  assert.ok(pool.ending)
  assert.ok(pool.ended)
  await waitForConnectionCount(appName, 0)
})

test("emits pg's connect, acquire, release and remove events with the client", async () => {
  const { pool, appName } = pgStylePool('drop-in-events')
  const seen: string[] = []
  let connected: pg.PoolClient | undefined
  pool
    .on('connect', (client) => {
      connected = client
      seen.push('connect')
    })
    .on('acquire', (client) => seen.push(`acquire ${client === connected}`))
    .on('release', (error, client) => seen.push(`release ${error?.message ?? 'ok'} ${client === connected}`))
    .once('remove', (client) => seen.push(`remove ${client === connected}`))
  await pool.query('SELECT 1')
  const client = await pool.connect()
  client.release(new Error('done with it'))
  await until('the remove event', () => seen.length === 6)
  assert.equal(seen, ['connect', 'acquire true', 'release ok true', 'acquire true', 'release done with it true', 'remove true'])
  const onError = () => undefined
  pool.on('error', onError).off('error', onError)
  await ended(pool, appName)
})

test("its pg events are typed as pg's types type pg.Pool's: a wrong listener or an unknown event does not compile", () => {
  // Checked by the typecheck of this file; never run.
  const typed = (pool: Pool): pg.Pool => {
    // @ts-expect-error 'error' listeners get an Error
    pool.on('error', (error: number) => error)
    // @ts-expect-error no such event
    pool.on('nonsense', () => undefined)
    pool.on('release', (error, client) => void [error?.message, client.release])
    return pool
  }
  assert.type(typed, 'function')
})

test("an idle client's error is emitted as 'error' with the client, and never crashes without a listener", async () => {
  const { pool, appName } = pgStylePool('drop-in-idle-error')
  await pool.query('SELECT 1')
  const errors: [string, boolean][] = []
  pool.on('error', (error, client) => errors.push([(error as Error & { code?: string }).code ?? error.message, client !== undefined]))
  await terminate(appName)
  await until('the error event', () => errors.length === 1)
  assert.equal(errors, [['57P01', true]])
  pool.removeAllListeners('error')
  await pool.query('SELECT 1')
  await terminate(appName)
  await until('the dead client to leave', () => pool.totalCount === 0)
  // A listener that throws is reported, as any of this pool's listeners is, and the dead client still leaves.
  const reported: string[] = []
  pool.events.on('error', (event) => void reported.push(`${event.source}: ${event.error.message}`))
  pool.on('error', () => {
    throw new Error('error listener bug')
  })
  await pool.query('SELECT 1')
  await terminate(appName)
  await until('the dead client to leave', () => pool.totalCount === 0)
  assert.ok(reported.includes('listener: error listener bug'), reported.join('\n'))
  await ended(pool, appName)
})

test("an idle client's 'error' is redacted, as every error the pool reports", async () => {
  // Trust auth takes any password: one that the server's termination message happens to quote shows the
  // redaction on a real error ("terminating connection due to administrator command").
  const { pool, appName } = pgStylePool('drop-in-idle-error-redacted', { password: 'administrator' })
  await pool.query('SELECT 1')
  const messages: string[] = []
  pool.on('error', (error) => void messages.push(error.message))
  await terminate(appName)
  await until('the error event', () => messages.length === 1)
  assert.equal(messages, ['terminating connection due to *** command'])
  await ended(pool, appName)
})

test('reports a failed new connection to its caller at once, as pg does', async () => {
  const pool = new Pool({ host: '127.0.0.1', port: 9, user: 'nobody', max: 2 })
  const started = Date.now()
  const error = await rejects(pool.query('SELECT 1'), Error)
  assert.match(error.message, 'ECONNREFUSED')
  assert.ok(Date.now() - started < 2000)
  assert.is(pool.getPoolMetrics().errors, 1)
  await pool.end()
})

test('connectionTimeoutMillis bounds the wait with a typed error; 0 waits for as long as it takes', async () => {
  const { pool, appName } = pgStylePool('drop-in-timeout', { max: 1, connectionTimeoutMillis: 50 })
  const holder = await pool.connect()
  const error = await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.match(error.message, 'Timed out after 50ms')
  holder.release()
  await ended(pool, appName)
  const patient = pgStylePool('drop-in-patient', { max: 1, connectionTimeoutMillis: 0 })
  const held = await patient.pool.connect()
  const waiting = patient.pool.query('SELECT 1')
  await new Promise((resolve) => setImmediate(resolve))
  assert.is(patient.pool.waitingCount, 1)
  held.release()
  await waiting
  await ended(patient.pool, patient.appName)
})

test('end() lets queries issued just before it finish, refuses new ones, and a second end() fails as in pg', async () => {
  const { pool, appName } = pgStylePool('drop-in-end')
  const inFlight = [pool.query('SELECT pg_sleep(0.05)'), pool.query('SELECT 1')]
  const ending = pool.end()
  await Promise.all(inFlight)
  await rejects(pool.query('SELECT 1'), PoolClosedError, 'ERR_POOL_CLOSED')
  await ending
  const again = await rejects(pool.end(), Error)
  assert.is(again.message, 'Called end on pool more than once')
  await waitForConnectionCount(appName, 0)
})

test('pool.query(callback) calls back with a clear error instead of sending the function to the server', async () => {
  const { pool, appName } = pgStylePool('drop-in-query-fn')
  const error = await new Promise<Error>((resolve) => (pool.query as unknown as (cb: (error: Error) => void) => void)((error) => resolve(error)))
  assert.instance(error, InvalidOptionError)
  assert.match(error.message, 'Passing a function as the first parameter to pool.query is not supported')
  await ended(pool, appName)
})

test('an empty or null connection string is ignored, as pg does; one pg would misread is refused', async () => {
  for (const connectionString of ['', null]) await new Pool({ connectionString: connectionString as never }).end()
  assert.throws(() => new Pool({ connectionString: 'host=db password=S3cretPw' }), (error: Error) => error instanceof InvalidOptionError && !error.message.includes('S3cretPw'))
})

test('a callback that is not a function is refused at once, where pg would throw it later, out of reach', async () => {
  const { pool, appName } = pgStylePool('drop-in-bad-callback')
  const call = pool as unknown as { connect(cb: unknown): void; query(text: string, values: unknown, cb: unknown): void; end(cb: unknown): void }
  for (const [where, attempt] of [['Pool.connect', () => call.connect({})], ['Pool.query', () => call.query('SELECT 1', [], 'done')], ['Pool.end', () => call.end(5)]] as const) {
    try {
      attempt()
      assert.unreachable(`${where} took it`)
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.match((error as Error).message, `Invalid options for ${where}: expected \`callback\` to be a function`)
    }
  }
  assert.is(pool.totalCount, 0, 'nothing was checked out')
  // As in pg, a null callback asks for the promise.
  assert.equal((await (pool.query as unknown as (t: string, v: unknown[], cb: null) => Promise<pg.QueryResult>)('SELECT 1 AS n', [], null)).rows, [{ n: 1 }])
  await ended(pool, appName)
})

test("a custom Promise reaches the clients, as pg.Pool's does: a checked-out client's query() returns it", async () => {
  class TaggedPromise<T> extends Promise<T> {}
  // pg deprecates the option, and says so once per process (kept out of the test output).
  await captureWarnings(async () => {
    const { pool, appName } = pgStylePool('drop-in-client-promise', { max: 1, Promise: TaggedPromise as unknown as PromiseConstructorLike })
    const client = await pool.connect()
    try {
      // Before, the option stayed with the pool: the client's promises were native ones.
      const query = client.query('SELECT 1 AS n')
      assert.instance(query, TaggedPromise)
      assert.equal((await query).rows, [{ n: 1 }])
    } finally {
      client.release()
    }
    await ended(pool, appName)
  })
})

test('honours maxUses, onConnect, verify, a custom Client and a custom Promise', async () => {
  const { default: pgModule } = await import('pg')
  let constructed = 0
  class OwnClient extends pgModule.Client {
    constructor(config: pg.ClientConfig) {
      super(config)
      constructed++
    }
  }
  const hooks: string[] = []
  const { pool, appName } = pgStylePool('drop-in-hooks', {
    max: 1,
    maxUses: 2,
    Client: OwnClient as never,
    onConnect: async (client) => void hooks.push(`onConnect ${typeof client.query}`),
    verify: (client, done) => {
      hooks.push(`verify ${typeof client.release}`)
      done()
    },
    Promise: class TaggedPromise<T> extends Promise<T> {} as unknown as PromiseConstructorLike,
  })
  const pids = new Set<number>()
  for (let i = 0; i < 4; i++) pids.add((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)
  assert.is(pids.size, 2, 'a new connection after every two uses')
  assert.is(constructed, 2)
  assert.equal(hooks, ['onConnect function', 'verify function', 'onConnect function', 'verify function'])
  const tagged = pool.query('SELECT 1')
  assert.is(tagged.constructor.name, 'TaggedPromise')
  await tagged
  await ended(pool, appName)
})

test("a one-shot query whose text leaves a transaction open rejects, typed: its connection is closed, so the server rolls its work back", async () => {
  const { pool, appName } = pgStylePool('drop-in-left-open', { max: 1 })
  const table = `drop_in_left_open_${process.pid}`
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`)
  try {
    // Before, it resolved with the INSERT's rowCount 1, while the server rolled the INSERT back.
    const error = await rejects(pool.query(`BEGIN; INSERT INTO ${table} (id) VALUES (1)`), PostgresRollbackError, 'ERR_POSTGRES_ROLLED_BACK')
    assert.is(error.reason, 'left-open')
    assert.is(error.mayHaveCommitted, false)
    assert.match(error.message, "Could not run a query on pool '")
    assert.match(error.message, 'It left a transaction open (a `BEGIN` without `COMMIT`), so that transaction was rolled back and the connection closed, so none of it took effect.')
    // The callback form hears of it too.
    const viaCallback = await new Promise<unknown>((resolve) => pool.query(`BEGIN; INSERT INTO ${table} (id) VALUES (2)`, (failure) => resolve(failure)))
    assert.instance(viaCallback, PostgresRollbackError)
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows, [{ n: 0 }])
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await ended(pool, appName)
  }
})

test('keeps the password out of inspect, errors and the pool options it shows', async () => {
  const secret = 'hunter2-drop-in'
  const pool = new Pool({ host: '127.0.0.1', port: 9, user: 'app', password: secret })
  const error = await rejects(pool.query('SELECT 1'), Error)
  for (const text of [inspect(pool, { depth: 6 }), inspect(pool.options), JSON.stringify(pool.options), error.message, String(error.stack), pool.target]) {
    assert.not.match(text, secret)
  }
  assert.is(pool.options.password, secret, 'still readable on purpose')
  await pool.end()
})

test('options holds what pg.Pool fills in, so code written for pg reads pool.options.max', async () => {
  const keys = ['max', 'min', 'idleTimeoutMillis', 'maxUses', 'allowExitOnIdle', 'maxLifetimeSeconds'] as const
  for (const config of [{}, { max: 4, min: 1, idleTimeoutMillis: 500, maxLifetimeSeconds: 60, maxUses: 100, allowExitOnIdle: true }]) {
    const theirs = new pg.Pool({ host: '127.0.0.1', port: 9, ...config })
    const ours = new Pool({ host: '127.0.0.1', port: 9, ...config })
    const read = (options: Record<string, unknown>) => keys.map((key) => [key, options[key]])
    assert.equal(read(ours.options as unknown as Record<string, unknown>), read(theirs.options as unknown as Record<string, unknown>))
    await theirs.end()
    await ours.end()
  }
})

test('allowExitOnIdle: the process may exit once every client is idle, but not while a caller waits on the check of an idle client', async () => {
  const { spawnSync } = await import('node:child_process')
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('drop-in-exit-on-idle')
  // validateAfterIdleMillis 0: every idle client is checked before it is handed out. No connectionTimeoutMillis
  // (pg's default), so no timer of the pool's holds the process while the check runs.
  const config = { host, port, user, database, application_name: appName, allowExitOnIdle: true, validateAfterIdleMillis: 0 }
  const program = `
    const { Pool } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)})
    const pool = new Pool(${JSON.stringify(config)})
    await pool.query('SELECT 1')
    const { rows } = await pool.query('SELECT 42 AS n')
    process.stdout.write('answered ' + rows[0].n)
  `
  // The program never ends its pool: it exits because its clients are idle, or is stopped by the timeout.
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 })
  assert.is(child.stdout, 'answered 42', `the query waiting on the idle client's check was dropped (exit ${child.status}): ${child.stderr}`)
  assert.is(child.status, 0, child.stderr)
  assert.is(child.signal, null, 'the process did not exit once its clients were idle')
  await waitForConnectionCount(appName, 0)
})

test('is a ManagedPool too: registry, warm-up, metrics, resize and Lifeguard events', async () => {
  const { pool, appName } = pgStylePool('drop-in-managed', { name: 'legacy', min: 2, max: 4 })
  const registry = createPoolRegistry()
  registry.register(pool)
  const resizes: number[] = []
  pool.events.on('resize', (e) => void resizes.push(e.next.maxSize))
  await registry.warmup()
  assert.is(await serverConnectionCount(appName), 2)
  pool.resize({ maxSize: 6 })
  assert.equal(resizes, [6])
  const metrics = registry.getPoolMetrics()['legacy']
  assert.equal([metrics?.totalConnections, metrics?.idleConnections, metrics?.maxSize], [2, 2, 6])
  await registry.close()
  await waitForConnectionCount(appName, 0)
})

test('Kysely takes it as its pg pool', async () => {
  const { pool, appName } = pgStylePool('drop-in-kysely')
  const db = new Kysely<{ never: never }>({ dialect: new PostgresDialect({ pool }) })
  const { rows } = await sql<{ n: number }>`SELECT 41 + 1 AS n`.execute(db)
  assert.equal(rows, [{ n: 42 }])
  await db.transaction().execute(async (trx) => sql`SELECT 1`.execute(trx))
  await db.destroy()
  assert.ok(pool.ended)
  await waitForConnectionCount(appName, 0)
})

test('connect-pg-simple takes it as its pg pool', async () => {
  const { pool, appName } = pgStylePool('drop-in-sessions')
  // A schema of this run's own (the store's constraint name is fixed), dropped even when the test fails;
  // ones left by runs that were killed are dropped first.
  const schemaName = `lifeguard_test_sessions_${process.pid}`
  const { rows: stale } = await pool.query<{ name: string }>("SELECT nspname AS name FROM pg_namespace WHERE nspname LIKE 'lifeguard_test_sessions_%'")
  for (const { name } of stale) if (!isAlive(Number(name.split('_').pop()))) await pool.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
  await pool.query(`CREATE SCHEMA ${schemaName}`)
  const PgStore = connectPgSimple(session)
  const store = new PgStore({ pool, schemaName, createTableIfMissing: true, pruneSessionInterval: false })
  const call = <T>(fn: (done: (error?: unknown, value?: T | null) => void) => void) => new Promise<T | null | undefined>((resolve, reject) => fn((error, value) => (error ? reject(error) : resolve(value))))
  try {
    const cookie = { originalMaxAge: 60_000, expires: new Date(Date.now() + 60_000) } as session.Cookie
    await call((done) => store.set('sid-1', { cookie, user: 'ada' } as session.SessionData, done))
    const loaded = await call<session.SessionData>((done) => store.get('sid-1', done))
    assert.is((loaded as unknown as { user: string }).user, 'ada')
    await call((done) => store.destroy('sid-1', done))
    assert.not.ok(await call<session.SessionData>((done) => store.get('sid-1', done)))
  } finally {
    await pool.query(`DROP SCHEMA IF EXISTS ${schemaName} CASCADE`)
    await store.close()
    await ended(pool, appName)
  }
})

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

async function terminate(appName: string): Promise<void> {
  const observer = new Pool({ ...pgConfig(), application_name: 'lifeguard-test-observer', max: 1 })
  await observer.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [appName])
  await observer.end()
}

test("'acquire' runs in the operation that asked, also for a connection opened for it, as pg.Pool's does", async () => {
  const { pool, appName } = pgStylePool('drop-in-acquire-context', { max: 1 })
  const container = createServiceContainer()
  const seen: (string | undefined)[] = []
  pool.on('acquire', () => void seen.push(OperationContext.tryCurrent()?.requestId))
  // The first checkout opens the connection; the second finds it idle.
  for (const requestId of ['opened-for-it', 'found-idle']) await runOperation('api', 'GET /', () => pool.query('SELECT 1'), { container, requestId })
  assert.equal(seen, ['opened-for-it', 'found-idle'])
  await container.dispose()
  await ended(pool, appName)
})

test("work a library starts in a request and runs after it ended (a timer it set there) is no part of it: not refused for the request's abort", async () => {
  const { pool, appName } = pgStylePool('drop-in-outlived')
  const container = createServiceContainer()
  const client = new AbortController()
  // As connect-pg-simple's prune timer, set on first use: it keeps the request's async context for good.
  let later: (() => Promise<unknown>) | undefined
  const request = OperationContext.create('api', 'GET /session', { container, signal: client.signal })
  await request.run(async () => {
    await pool.query('SELECT 1')
    later = AsyncResource.bind(() => pool.query('SELECT 2 AS n'))
  })
  client.abort(new Error('client gone'))
  await request.dispose()
  const { rows } = (await later?.()) as { rows: { n: number }[] }
  assert.equal(rows, [{ n: 2 }])
  await container.dispose()
  await ended(pool, appName)
})

test("a 'connect', 'acquire', 'release' or 'remove' listener that throws is reported, and the pool goes on", async () => {
  const { pool, appName } = pgStylePool('drop-in-throwing-listeners', { max: 1, connectionTimeoutMillis: 2000 })
  const reported: string[] = []
  pool.events.on('error', (event) => void reported.push(`${event.source}: ${event.error.message}`))
  for (const name of ['connect', 'acquire', 'release', 'remove'] as const) {
    pool.on(name, () => {
      throw new Error(`${name} listener bug`)
    })
  }
  // Each checkout runs through every listener: the query settles, and the connection comes back.
  for (let i = 0; i < 3; i++) assert.equal((await pool.query<{ n: number }>('SELECT $1::int AS n', [i])).rows, [{ n: i }])
  const client = await pool.connect()
  assert.equal((await client.query('SELECT 1 AS n')).rows, [{ n: 1 }])
  client.release()
  assert.equal([pool.totalCount, pool.idleCount, pool.waitingCount], [1, 1, 0], 'one connection, idle: no checkout left to nobody')
  assert.is(await serverConnectionCount(appName), 1, 'no connection left open beside it')
  // The application's listeners failed, not the pool: its error count says nothing of them.
  assert.equal([pool.getPoolMetrics().errors, pool.getPoolMetrics().lastError], [0, undefined])
  await ended(pool, appName)
  assert.equal([...new Set(reported)].sort(), ['listener: acquire listener bug', 'listener: connect listener bug', 'listener: release listener bug', 'listener: remove listener bug'])
})

test.run()
