// A client given back while statements it was sent still run or wait on it: it goes back (or is closed) once
// they have ended, judged on where they left its session, not on the server's answer to the statement before.
import type { PoolErrorEvent } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool } from '../src/index.js'
import { ManualClock, pgConfig, scratchName, terminateBackends, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { settlesWithin, until } from './_helpers/pools.js'

const test = suite('a client released while its statements still run')

interface DropIn {
  pool: Pool
  appName: string
  /** Lifeguard's `error` events: a connection closed for what its holder left says so here. */
  errors: PoolErrorEvent[]
}

// One connection, so the next caller gets the same session unless it was closed.
function dropInPool(topic: string, clock?: ManualClock): DropIn {
  const appName = uniqueAppName(topic)
  const errors: PoolErrorEvent[] = []
  const pool = new Pool({ ...pgConfig(), application_name: appName, max: 1, events: { onError: (e) => void errors.push(e) }, ...(clock === undefined ? {} : { clock }) })
  return { pool, appName, errors }
}

async function endAndCheck({ pool, appName }: DropIn): Promise<void> {
  if (!pool.ending) await pool.end()
  await waitForConnectionCount(appName, 0)
}

// Read from a session of its own: what another client sees is what was committed.
async function committedRows(table: string): Promise<number | undefined> {
  const client = new pg.Client({ ...pgConfig(), application_name: uniqueAppName('release-pending-reader') })
  await client.connect()
  try {
    return (await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)).rows[0]?.n
  } finally {
    await client.end()
  }
}

async function backendPid(pool: Pool): Promise<number | undefined> {
  return (await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
}

test("a COMMIT returned, not awaited, from a try whose finally releases completes: the row is committed and the session reused", async () => {
  const dropIn = dropInPool('release-pending-commit')
  const { pool, errors } = dropIn
  const table = scratchName('release_commit')
  await pool.query(`CREATE TABLE ${table} (n int)`)
  try {
    const pid = await backendPid(pool)
    // The common shape: inside an async function, `return promise` in a `try` does not wait before `finally`.
    const insertOne = async (n: number): Promise<pg.QueryResult> => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN')
        await client.query(`INSERT INTO ${table} VALUES ($1)`, [n])
        return client.query('COMMIT')
      } finally {
        client.release()
      }
    }
    // Before, the client was closed under its COMMIT: 'Connection terminated', though the server committed.
    assert.is((await insertOne(1)).command, 'COMMIT')
    assert.is(await committedRows(table), 1)
    assert.is(await backendPid(pool), pid, 'the session, idle after its COMMIT, serves the next caller')
    assert.equal(errors, [])
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await endAndCheck(dropIn)
  }
})

test("a BEGIN not awaited before release() runs first, and its connection is closed before anyone else gets it: the next caller's write is kept", async () => {
  const dropIn = dropInPool('release-pending-begin')
  const { pool, errors } = dropIn
  const table = scratchName('release_begin')
  await pool.query(`CREATE TABLE ${table} (n int)`)
  try {
    const careless = await pool.connect()
    const pid = (await careless.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    const begun = careless.query('BEGIN')
    careless.release()
    // Still out of the pool while BEGIN runs (before, it was idle: the next caller's INSERT ran inside the
    // transaction, reported success, and was rolled back when the connection was closed).
    assert.equal({ active: pool.activeCount, idle: pool.idleCount, total: pool.totalCount }, { active: 1, idle: 0, total: 1 })
    assert.throws(() => careless.release(), /Release called on client which has already been released/)
    assert.is(pool.getPoolMetrics().useTime.count, 2, "the holder's checkout ended at release()")
    await pool.query(`INSERT INTO ${table} VALUES (1)`)
    assert.is((await begun).command, 'BEGIN')
    assert.is(await committedRows(table), 1, 'the write was kept')
    assert.is.not(await backendPid(pool), pid, 'a new session')
    assert.match(errors.map((e) => e.error.message).join('\n'), 'A client was released inside a transaction')
  } finally {
    await pool.query(`DROP TABLE IF EXISTS ${table}`)
    await endAndCheck(dropIn)
  }
})

test('end() while a released client still runs its statement lets the statement finish, and closes every connection', async () => {
  const dropIn = dropInPool('release-pending-end')
  try {
    const client = await dropIn.pool.connect()
    const sleeping = client.query('SELECT pg_sleep(0.2) AS slept')
    client.release()
    const ending = dropIn.pool.end()
    // Before, end() closed the client at once as idle, under its statement: 'Connection terminated'.
    assert.is((await sleeping).rowCount, 1)
    await ending
    assert.is(dropIn.pool.ended, true)
    assert.equal(dropIn.errors, [])
  } finally {
    await endAndCheck(dropIn)
  }
})

test('a statement still running past the grace (2 s) still holds the client: a slow COMMIT is not cut, and the client is reused', async () => {
  const clock = new ManualClock()
  const dropIn = dropInPool('release-pending-grace', clock)
  const { pool } = dropIn
  const client = await pool.connect()
  const sleeping = client.query('SELECT pg_sleep(0.3)')
  try {
    client.release()
    await clock.advance(2000)
    // Before, the client went back at 2 s on the status before the statement (a COMMIT under way: closed under it).
    assert.equal({ active: pool.activeCount, idle: pool.idleCount }, { active: 1, idle: 0 }, 'held past the grace')
    await sleeping
    // Its 'drain' follows the statement's answer in the same read.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal({ active: pool.activeCount, idle: pool.idleCount }, { active: 0, idle: 1 }, 'back once its statement ended')
    assert.equal(dropIn.errors, [])
  } finally {
    await sleeping.catch(() => undefined)
    await endAndCheck(dropIn)
  }
})

test('a release from the callback of a failed statement waits for the server\'s ready message: an aborted transaction is not handed on', async () => {
  const dropIn = dropInPool('release-pending-error')
  const { pool } = dropIn
  try {
    const client = await pool.connect()
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    await new Promise<void>((resolve) => {
      client.query('BEGIN; SELECT 1/0', () => {
        // pg calls back on the error message; the ready message with status 'E' comes after it.
        client.release()
        resolve()
      })
    })
    // Before, it went back idle on the status before (idle), inside an aborted transaction: the next query failed (25P02).
    const next = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    assert.is.not(next.rows[0]?.pid, pid, 'a new connection')
    assert.match(dropIn.errors.map((e) => e.error.message).join('\n'), 'A client was released inside a transaction')
  } finally {
    await endAndCheck(dropIn)
  }
})

test("pg's pattern on a client from connect(): a ROLLBACK in the catch of a query with a row limit that the server refused fails at once, and release() closes the connection, its slot free at once", async () => {
  // A manual clock that never moves: no timer of the pool's may take part.
  const dropIn = dropInPool('release-pending-rows', new ManualClock())
  const { pool } = dropIn
  try {
    const client = await pool.connect()
    await client.query('BEGIN')
    let rollback: unknown
    // pg sends no Sync after this error: the server never says it is ready again, so a ROLLBACK waited for good
    // (as under pg.Pool), and the client was never released.
    const error = await settlesWithin(
      "the pattern's ROLLBACK",
      (async () => {
        try {
          await client.query({ text: 'SELECT 1/0', rows: 1 } as pg.QueryConfig)
          return undefined
        } catch (caught) {
          rollback = await client.query('ROLLBACK').then(() => 'rolled back', (failure: unknown) => failure)
          return caught
        } finally {
          client.release()
        }
      })(),
    )
    assert.is((error as { code?: string }).code, '22012', "the query's own error")
    assert.instance(rollback, Error, 'the ROLLBACK fails: its connection was ended as the error came')
    // Closed at once, not after a grace: nothing would have made it ready.
    assert.equal({ active: pool.activeCount, idle: pool.idleCount }, { active: 0, idle: 0 })
    await until('the connection closed', () => pool.totalCount === 0)
    assert.match(dropIn.errors.map((e) => e.error.message).join('\n'), 'A query with a row limit (`rows`) failed')
    assert.equal((await pool.query('SELECT 1 AS n')).rows, [{ n: 1 }], 'the one slot serves the next caller')
  } finally {
    // Only after a failure: a client held for good would hold end() too.
    if (pool.activeCount > 0) await terminateBackends(dropIn.appName)
    await endAndCheck(dropIn)
  }
})

test.run()
