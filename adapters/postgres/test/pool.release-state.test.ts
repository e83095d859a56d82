import type { PoolErrorEvent } from '@lifeguard/core'
import Cursor from 'pg-cursor'
import type { PoolClient } from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool, type PostgresPool } from '../src/index.js'
import { pgConfig, rejects, runningStatementCount, scratchName, terminateBackends, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

// What a holder leaves on a connection when it gives it back, and what the next holder gets.
const test = suite('a client given back: what the next holder inherits')

test('released inside a transaction, its connection is closed: the next caller runs in no transaction, and its write stays', async () => {
  const errors: PoolErrorEvent[] = []
  const { pool, appName } = testPool('release-in-transaction', { maxSize: 1, events: { onError: (e) => void errors.push(e) } })
  const table = scratchName('release_tx')
  await pool.query(`CREATE TABLE ${table} (n int)`)
  try {
    const careless = await pool.connect()
    const before = (await careless.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    await careless.query('BEGIN')
    careless.release()
    // The next caller's write: it ran inside the leftover transaction, reported success, and was rolled back.
    await pool.query(`INSERT INTO ${table} VALUES (1)`)
    const after = (await pool.query<{ pid: number; fresh: boolean }>('SELECT pg_backend_pid() AS pid, pg_current_xact_id_if_assigned() IS NULL AS fresh')).rows[0]
    assert.is.not(after?.pid, before, 'a new connection')
    assert.equal((await pool.query(`SELECT count(*)::int AS n FROM ${table}`)).rows, [{ n: 1 }], 'the write was kept')
    assert.match(errors.map((e) => e.error.message).join('\n'), 'A client was released inside a transaction')

    // Inside a failed transaction (status E): the next holder's first statement used to fail with 25P02.
    const failing = await pool.connect()
    await failing.query('BEGIN')
    await rejects(failing.query('SELECT 1/0'), Error)
    failing.release()
    assert.equal((await pool.query('SELECT 1 AS one')).rows, [{ one: 1 }])
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await closeAndCheck(pool, appName)
  }
})

test("the drop-in Pool: done() called again after the client went to another holder throws, as pg's does, and leaves that holder alone", async () => {
  const appName = uniqueAppName('release-stale-done')
  const { host, port, user, database } = pgConfig()
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1 })
  const checkout = (): Promise<{ client: { query(text: string): Promise<{ rows: unknown[] }> }; done: (error?: unknown) => void }> =>
    new Promise((resolve, reject) => pool.connect((error, client, done) => (error ? reject(error) : resolve({ client: client as never, done }))))
  const first = await checkout()
  first.done()
  const second = await checkout()
  await second.client.query('BEGIN')
  // Before, this gave back the second holder's checkout, and the next connect() shared its session.
  assert.throws(() => first.done(), /Release called on client which has already been released/)
  let third: Awaited<ReturnType<typeof checkout>> | undefined
  const waiting = checkout().then((taken) => (third = taken))
  await new Promise((resolve) => setImmediate(resolve))
  assert.is(third, undefined, 'the one connection is still the second holder\'s')
  await second.client.query('ROLLBACK')
  second.done()
  await waiting
  third?.done()
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test("a client.release kept past its checkout (a stream's late 'error' handler) throws, as pg-pool's does, and leaves the next holder alone; lone queries still release as before", async () => {
  for (const face of ['drop-in', 'PostgresPool'] as const) {
    const appName = uniqueAppName(`release-stale-${face}`)
    const { host, port, user, database } = pgConfig()
    const pool =
      face === 'drop-in'
        ? new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1 })
        : testPool(`release-stale-${face}`, { applicationName: appName, maxSize: 1 }).pool
    const first = await pool.connect()
    const kept = first.release
    kept()
    // A lone query on the same connection in between: the client's own release serves it.
    assert.equal((await pool.query('SELECT 1 AS n')).rows, [{ n: 1 }])
    const second = await pool.connect()
    await second.query('BEGIN')
    assert.throws(() => kept(), /Release called on client which has already been released/)
    assert.throws(() => kept(new Error('late stream error')), /Release called on client which has already been released/)
    assert.equal((await second.query('SELECT 2 AS n')).rows, [{ n: 2 }], "the second holder's session is still open and its own")
    await second.query('ROLLBACK')
    second.release()
    assert.throws(() => second.release(), /Release called on client which has already been released/)
    assert.equal((await pool.query('SELECT 3 AS n')).rows, [{ n: 3 }])
    if (face === 'drop-in') await (pool as Pool).end()
    else await (pool as PostgresPool).close()
    await waitForConnectionCount(appName, 0)
  }
})

test("a session the server ended under a statement (57P01), released as soon as that statement rejects, is closed and never handed to the next holder", async () => {
  const errors: PoolErrorEvent[] = []
  const reasons: string[] = []
  const { pool, appName } = testPool('release-after-fatal', { maxSize: 1, events: { onError: (e) => void errors.push(e), onDisconnect: (e) => void reasons.push(e.reason) } })
  let dropIn: Pool | undefined
  try {
    for (const face of ['PostgresPool', 'drop-in Pool'] as const) {
      const from = face === 'PostgresPool' ? pool : (dropIn = new Pool({ ...pgConfig(), application_name: appName, max: 1 }))
      const client = await from.connect()
      const killed = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
      const running = client.query('SELECT pg_sleep(30)').then(
        () => 'finished',
        (error: { code?: string }) => error.code,
      )
      while ((await runningStatementCount(appName, 'pg_sleep')) === 0) await new Promise((resolve) => setImmediate(resolve))
      await terminateBackends(appName, { state: 'active' })
      // The usual try/finally: given back the moment its statement failed, before the socket's end is read.
      assert.is(await running, '57P01', face)
      client.release()
      const next = await from.connect()
      const after = await next.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      assert.is.not(after.rows[0]?.pid, killed, `${face}: a new session`)
      next.release()
    }
    assert.match(errors.map((e) => e.error.message).join('\n'), 'terminating connection due to administrator command')
    assert.ok(reasons.includes('error'), 'the ended session left as an error')
  } finally {
    await dropIn?.end()
    await closeAndCheck(pool, appName)
  }
})

test('a client given back with a cursor still open on it is closed: the next holder would have waited behind the cursor for good', async () => {
  const errors: PoolErrorEvent[] = []
  const { pool, appName } = testPool('release-open-cursor', { maxSize: 1, events: { onError: (e) => void errors.push(e) } })
  try {
    const careless = await pool.connect()
    const cursor = careless.query(new Cursor('SELECT g FROM generate_series(1, 1000) g'))
    assert.equal(await cursor.read(2), [{ g: 1 }, { g: 2 }])
    careless.release()
    await waitForConnectionCount(appName, 0)
    assert.match(errors.map((e) => e.error.message).join('\n'), 'released while a cursor or stream still ran on it')
    assert.equal((await pool.query('SELECT 7 AS v')).rows, [{ v: 7 }])

    // A cursor still queued behind a statement when the client is given back is the same.
    const hastier = await pool.connect()
    // Both are cut when the connection closes: their errors are expected.
    const cut = hastier.query('SELECT pg_sleep(0.05)').then(() => 'finished', (error: Error) => error.message)
    hastier.query(new Cursor('SELECT 1 AS n')).on('error', () => undefined)
    hastier.release()
    assert.match(await cut, 'Connection terminated')
    await waitForConnectionCount(appName, 0)
    assert.equal((await pool.query('SELECT 8 AS v')).rows, [{ v: 8 }])

    // A statement left running (not awaited) still runs to its end on the same connection, as with pg.Pool.
    const hasty = await pool.connect()
    const pid = (await hasty.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    const leftRunning = hasty.query('SELECT pg_sleep(0.05)')
    hasty.release()
    await leftRunning
    assert.equal((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid, pid)
  } finally {
    await closeAndCheck(pool, appName)
  }
})

test("a client ended (client.end()) and then released is closed, as pg-pool does: the next holder gets a working client, not one pg refuses", async () => {
  const appName = uniqueAppName('release-ended')
  const pool = new Pool({ ...pgConfig(), application_name: appName, max: 1 })
  try {
    const pidOf = async (client: PoolClient): Promise<number | undefined> => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    // Taken at once after release(): it used to be the closing client ('Client was closed and is not
    // queryable'), its socket's end being a round trip away.
    const ended = await pool.connect()
    const pid = await pidOf(ended)
    const ending = ended.end()
    ended.release()
    const next = await pool.connect()
    assert.is.not(await pidOf(next), pid, 'taken at once')
    // Handed to a caller already waiting: the same.
    const waiting = pool.connect()
    const nextPid = await pidOf(next)
    const endingToo = next.end()
    next.release()
    const served = await waiting
    assert.is.not(await pidOf(served), nextPid, 'handed to a waiter')
    served.release()
    await Promise.all([ending, endingToo])
  } finally {
    // Bounded: a client that failed the test may still be checked out.
    await pool.close({ timeoutMillis: 1000 })
    await waitForConnectionCount(appName, 0)
  }
})

test.run()
