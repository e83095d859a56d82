// A statement with a row limit (`tx.query({ text, rows })`): pg sends no Sync after the server refuses one, so
// that session never says it is ready again. Only then is the transaction ended at once; every other failure of
// such a statement leaves the session ready, and the transaction goes on.
import { ConnectionLostError, createServiceContainer, runOperation, type ServiceContainer } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresRollbackError, registerPostgres, type PostgresPool } from '../src/index.js'
import { rejects } from '@lifeguard/test-kit'
import { closeAndCheck, settlesWithin, testPool } from './_helpers/pools.js'

const table = `handle_tx_rows_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string; container: ServiceContainer }>('context.postgres transaction: statements with a row limit')

test.before(async (context) => {
  // One connection: a statement left waiting for good would hold it, and the next test would wait too.
  const { pool, appName } = testPool('handle-tx-row-limit', { maxSize: 1 })
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`)
  Object.assign(context, { pool, appName, container: registerPostgres(createServiceContainer(), pool) })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

async function ids(pool: PostgresPool): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)
  return rows.map((row) => row.id)
}

test('`rows: 0` and `rows: null` are no row limit (pg Syncs after their error): a failed insert caught, then ROLLBACK TO SAVEPOINT, and the transaction commits', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const codes: unknown[] = []
  const value = await settlesWithin(
    'transaction()',
    runOperation('api', 'savepoint', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (1)`)
        for (const rows of [0, null]) {
          await tx.query('SAVEPOINT s')
          // A unique violation, caught: the savepoint takes the transaction back to before it.
          await tx.query({ text: `INSERT INTO ${table} (id) VALUES ($1)`, values: [1], rows } as pg.QueryConfig).catch((error: { code?: string }) => void codes.push(error.code))
          await tx.query('ROLLBACK TO SAVEPOINT s')
        }
        await tx.query(`INSERT INTO ${table} (id) VALUES (2)`)
        return 'committed'
      }), { container }),
  )
  // Before, `rows: 0` counted as a row limit: ROLLBACK TO SAVEPOINT was refused (DisposedError), and transaction()
  // rejected with PostgresRollbackError.
  assert.is(value, 'committed')
  assert.equal(codes, ['23505', '23505'])
  assert.equal(await ids(pool), [1, 2])
  assert.is(pool.activeCount, 0)
})

test('a statement with a row limit that fails without the server refusing it leaves the transaction going: a value pg cannot serialize, values not an array, a type parser that throws', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const messages: string[] = []
  const note = (error: Error): void => void messages.push(error.message)
  const value = await settlesWithin(
    'transaction()',
    runOperation('api', 'not refused', (context) =>
      context.postgres.transaction(async (tx) => {
        // pg sends Close and Sync after a value it cannot serialize in Bind.
        const unserializable = { toPostgres: (): never => { throw new Error('cannot serialize') } }
        await tx.query({ text: 'SELECT $1::text', values: [unserializable], rows: 5 } as pg.QueryConfig).catch(note)
        // pg refuses these before sending anything.
        await tx.query({ text: 'SELECT $1::text', values: 'x', rows: 5 } as unknown as pg.QueryConfig).catch(note)
        // pg Syncs at CommandComplete, and reports the parser's error at ReadyForQuery.
        const throwing = { getTypeParser: () => (): never => { throw new Error('cannot parse') } }
        await tx.query({ text: 'SELECT 1 AS n', rows: 5, types: throwing } as unknown as pg.QueryConfig).catch(note)
        await tx.query(`INSERT INTO ${table} (id) VALUES (3)`)
        return 'committed'
      }), { container }),
  )
  // Before, each of these ended the transaction as if the server had refused it.
  assert.is(value, 'committed')
  assert.equal(messages, ['cannot serialize', 'Query values must be an array', 'cannot parse'])
  assert.equal(await ids(pool), [3])
  assert.is(pool.activeCount, 0)
})

test('a value pg cannot serialize, in a statement with a row limit that the server then refuses to parse: pg Synced, so the transaction goes on', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const messages: string[] = []
  const value = await settlesWithin(
    'transaction()',
    runOperation('api', 'parse refused after bind', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SAVEPOINT s')
        const unserializable = { toPostgres: (): never => { throw new Error('cannot serialize') } }
        // pg has written Parse when Bind throws; it sends Close and Sync, and the server's refusal of the Parse follows.
        await tx.query({ text: 'SELEC $1::text', values: [unserializable], rows: 5 } as pg.QueryConfig).catch((error: Error) => void messages.push(error.message))
        await tx.query('ROLLBACK TO SAVEPOINT s')
        await tx.query(`INSERT INTO ${table} (id) VALUES (4)`)
        return 'committed'
      }), { container }),
  )
  // Before, the server's answer to the Parse was taken for a refused row-limited statement: the connection was
  // ended, ROLLBACK TO SAVEPOINT refused, and transaction() rejected.
  assert.is(value, 'committed')
  assert.equal(messages, ['cannot serialize'])
  assert.equal(await ids(pool), [4])
  assert.is(pool.activeCount, 0)
})

test('statements queued behind a statement with a row limit that the server refuses fail at once, with ConnectionLostError, rather than wait for good', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const settled: PromiseSettledResult<unknown>[] = []
  const error = await rejects(
    settlesWithin(
      'transaction()',
      runOperation('api', 'queued', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (4)`)
          // Both handed to pg at once: the UPDATE waits in pg's queue for a ready message that never comes.
          settled.push(...(await Promise.allSettled([tx.query({ text: 'SELECT 1/0', rows: 10 } as pg.QueryConfig), tx.query(`UPDATE ${table} SET id = 5 WHERE id = 4`)])))
          return 'looks fine'
        }), { container }),
    ),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  assert.is(error.reason, 'statement-failed')
  assert.is(error.mayHaveCommitted, false)
  assert.is((error.cause as { code?: string }).code, '22012')
  const [refused, queued] = settled
  assert.is(refused?.status === 'rejected' && (refused.reason as { code?: string }).code, '22012', "the statement's own error")
  assert.ok(queued?.status === 'rejected')
  assert.instance(queued.reason, ConnectionLostError)
  const lost = queued.reason as ConnectionLostError
  assert.is(lost.code, 'ERR_CONNECTION_LOST')
  assert.is(lost.mayHaveCommitted, false)
  assert.match((lost.cause as Error).message, 'A query with a row limit (`rows`) failed')
  // The connection was closed (the server rolled back); the one slot serves the next caller.
  assert.is(pool.activeCount, 0)
  assert.equal(await ids(pool), [])
})

test('a failure the server reports after a row-limited statement completed (a deferred constraint at the implicit commit) leaves a connect() client usable', async ({ pool, container }) => {
  const deferred = `${table}_deferred`
  await pool.query(`CREATE TABLE IF NOT EXISTS ${deferred} (id int, CONSTRAINT ${deferred}_unique UNIQUE (id) DEFERRABLE INITIALLY DEFERRED)`)
  await pool.query(`DELETE FROM ${deferred}`)
  const errors: string[] = []
  const stop = pool.events.on('error', (event) => void errors.push(event.error.message))
  const totalBefore = pool.totalCount
  try {
    const answer = await settlesWithin(
      'the connect() client',
      runOperation('api', 'deferred', async (context) => {
        const client = await context.postgres.connect()
        try {
          await client.query(`INSERT INTO ${deferred} (id) VALUES (1)`)
          // pg Syncs at its CommandComplete; the server then commits the implicit transaction, and the deferred
          // check fails there: an error after the statement completed, with a ready message after it.
          const refused = await client.query({ text: `INSERT INTO ${deferred} (id) VALUES ($1) RETURNING id`, values: [1], rows: 10 } as pg.QueryConfig).then(
            () => 'inserted',
            (error: { code?: string }) => error.code,
          )
          const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${deferred}`)
          return `${refused}, then ${rows[0]?.n} row(s)`
        } finally {
          client.release()
        }
      }, { container }),
    )
    // Before, the row-limit watch took the commit's error for the statement's, and ended a session about to be
    // ready: the next query failed as "not queryable", with an error event.
    assert.is(answer, '23505, then 1 row(s)')
    assert.equal(errors, [])
    assert.is(pool.totalCount, Math.max(totalBefore, 1), 'the connection stays open')
    assert.is(pool.activeCount, 0)
  } finally {
    stop()
    await pool.query(`DROP TABLE IF EXISTS ${deferred}`)
  }
})

test("a connect() client released from the refused statement's own callback is closed with an error event saying why", async () => {
  const reported: string[] = []
  const { pool: own, appName } = testPool('handle-rows-callback', { maxSize: 1, events: { onError: (event) => void reported.push(event.error.message) } })
  const container = registerPostgres(createServiceContainer(), own)
  try {
    const code = await settlesWithin(
      'the callback',
      runOperation('api', 'callback', async (context) => {
        const client = await context.postgres.connect()
        return new Promise<unknown>((resolve) => {
          client.query({ text: 'SELECT 1/0', rows: 1 } as pg.QueryConfig, (error: Error & { code?: string }) => {
            // Released inside pg's callback, before the socket's own error is emitted.
            client.release()
            resolve(error.code)
          })
        })
      }, { container }),
    )
    assert.is(code, '22012')
    await settlesWithin('the connection to close', (async () => {
      while (own.totalCount > 0) await new Promise((resolve) => setImmediate(resolve))
    })())
    // Before, closed with no word: the pool learned it was broken only from the socket's error, a tick later.
    assert.is(reported.length, 1)
    assert.match(reported[0] ?? '', 'A query with a row limit (`rows`) failed')
  } finally {
    await closeAndCheck(own, appName)
  }
})

test('with a pg.Client class whose fields the watch cannot read, a refused row-limited statement still ends the transaction rather than hang it', async () => {
  // The application's own Client class, without pg's static Query: the per-connection watch cannot be set up, and
  // the statement's own failure is marked instead (its connection is closed, not sent a ROLLBACK it never answers).
  class UnwatchedClient extends pg.Client {}
  Object.defineProperty(UnwatchedClient, 'Query', { value: undefined })
  const { pool: own, appName } = testPool('handle-rows-unwatched', { maxSize: 1, pg: { Client: UnwatchedClient } })
  const container = registerPostgres(createServiceContainer(), own)
  try {
    const error = await rejects(
      settlesWithin(
        'transaction()',
        runOperation('api', 'unwatched', (context) =>
          context.postgres.transaction(async (tx) => {
            await tx.query({ text: 'SELECT 1/0', rows: 10 } as pg.QueryConfig).catch(() => undefined)
            return 'looks fine'
          }), { container }),
      ),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    assert.is(error.reason, 'statement-failed')
    assert.is((error.cause as { code?: string }).code, '22012')
    assert.is(own.activeCount, 0)
  } finally {
    await closeAndCheck(own, appName)
  }
})

test.run()
