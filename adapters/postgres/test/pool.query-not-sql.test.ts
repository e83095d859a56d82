import { createServiceContainer, InvalidOptionError, OperationContext } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool, registerPostgres } from '../src/index.js'
import Cursor from 'pg-cursor'
import { pgConfig } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('PostgresPool.query(callback)')

test('calls back with an InvalidOptionError, as the Pool face does, instead of sending the function as an empty query', async () => {
  const { pool, appName } = testPool('query-fn')
  let calledBack = false
  const answer = new Promise<Error>((resolve) => {
    const query = pool.query as unknown as (callback: (error: Error) => void) => unknown
    const returned = query.call(pool, (error) => {
      calledBack = true
      resolve(error)
    })
    assert.is(returned, undefined)
  })
  assert.not.ok(calledBack, 'not called back before query() returned')
  const error = await answer
  assert.instance(error, InvalidOptionError)
  assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
  assert.is((error as InvalidOptionError).option, 'text')
  assert.match(error.message, 'Passing a function as the first parameter to pool.query is not supported')
  assert.is(pool.getPoolMetrics().totalConnections, 0, 'no connection was taken for it')
  await closeAndCheck(pool, appName)
})

test('context.postgres.query() and tx.query() refuse anything but SQL text or a query config, sending nothing', async () => {
  const { pool, appName } = testPool('query-not-sql-handle')
  const context = OperationContext.create('api', 'not-sql', { container: registerPostgres(createServiceContainer(), pool) })
  try {
    const query = context.postgres.query as unknown as (text: unknown) => Promise<unknown>
    for (const text of [() => 'SELECT 1', 42, undefined, null]) {
      const error = await query.call(context.postgres, text).then(() => assert.unreachable(`${String(text)} was run`), (error: unknown) => error)
      assert.instance(error, InvalidOptionError)
      assert.is((error as InvalidOptionError).option, 'text')
    }
    await context.postgres.transaction(async (tx) => {
      const refused = await (tx.query as unknown as (text: unknown) => Promise<unknown>).call(tx, () => 'SELECT 1').then(() => undefined, (error: unknown) => error)
      assert.instance(refused, InvalidOptionError)
      assert.equal((await tx.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }], 'the transaction goes on')
    })
  } finally {
    await context.dispose()
  }
  await closeAndCheck(pool, appName)
})

test('context.postgres.query() and tx.query() refuse a cursor: it never settles, and would hold its connection and the disposal for good', async () => {
  const { pool, appName } = testPool('query-cursor-handle', { maxSize: 1 })
  const context = OperationContext.create('api', 'cursor', { container: registerPostgres(createServiceContainer(), pool) })
  try {
    const query = context.postgres.query as unknown as (text: unknown) => Promise<unknown>
    const error = await query.call(context.postgres, new Cursor('SELECT 1')).then(() => assert.unreachable('the cursor was run'), (error: unknown) => error)
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).option, 'text')
    assert.match((error as Error).message, `Could not run the query on pool '${pool.name}'. A submittable (pg-cursor, pg-query-stream) runs on a client: take one with \`connect()\``)
    assert.is(pool.getPoolMetrics().activeConnections, 0, 'no connection was taken for it')
    await context.postgres.transaction(async (tx) => {
      const refused = await (tx.query as unknown as (text: unknown) => Promise<unknown>).call(tx, new Cursor('SELECT 1')).then(() => undefined, (error: unknown) => error)
      assert.instance(refused, InvalidOptionError)
      assert.match((refused as Error).message, 'Could not run a query in the transaction')
      assert.equal((await tx.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }], 'the transaction goes on')
    })
    // The one connection went back: a cursor run on it would have kept it.
    assert.equal((await context.postgres.query<{ n: number }>('SELECT 2 AS n')).rows, [{ n: 2 }])
  } finally {
    await context.dispose()
  }
  await closeAndCheck(pool, appName)
})

test('values pg cannot serialize fail that query alone: no crash from a second answer, no connection left waiting for good', async () => {
  const { pool, appName } = testPool('query-bad-values', { maxSize: 1 })
  const dropIn = new Pool({ ...pgConfig(), application_name: appName, max: 1 })
  const uncaught: unknown[] = []
  const onUncaught = (error: unknown): void => void uncaught.push(String(error))
  process.on('uncaughtException', onUncaught)
  try {
    const circular: Record<string, unknown> = {}
    circular['self'] = circular
    const revoked = Proxy.revocable([], {})
    revoked.revoke()
    const cases: [string, () => unknown][] = [
      ['a circular object', () => [circular]],
      ['a throwing toPostgres', () => [{ toPostgres: () => { throw new Error('no postgres form') } }]],
      ['values that cannot be read (a revoked proxy)', () => revoked.proxy],
    ]
    for (const [label, values] of cases) {
      for (const [face, from] of [['PostgresPool', pool], ['drop-in Pool', dropIn]] as const) {
        await from.query('SELECT $1::text AS t', values() as unknown[]).then(
          () => assert.unreachable(`${face}, ${label}: refused`),
          (error: unknown) => assert.instance(error, Error, `${face}, ${label}`),
        )
        assert.equal((await from.query('SELECT 1 AS n')).rows, [{ n: 1 }], `${face}, ${label}: the next query is answered`)
      }
      const container = registerPostgres(createServiceContainer(), pool)
      const operation = OperationContext.create('api', 'POST /orders', { container })
      const failed = await operation.run(() => operation.postgres.transaction((tx) => tx.query('SELECT $1::text', values() as unknown[]))).then(
        () => false,
        () => true,
      )
      assert.ok(failed, `transaction, ${label}: refused`)
      await operation.dispose()
      assert.equal((await pool.query('SELECT 2 AS n')).rows, [{ n: 2 }], `transaction, ${label}: the next query is answered`)
    }
    // A second answer pg gives would surface at the next turn of the event loop.
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(uncaught, [])
    assert.is(pool.getPoolMetrics().activeConnections, 0)
  } finally {
    process.off('uncaughtException', onUncaught)
    await dropIn.end()
    await closeAndCheck(pool, appName)
  }
})

test.run()
