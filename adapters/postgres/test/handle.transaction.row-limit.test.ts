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

test.run()
