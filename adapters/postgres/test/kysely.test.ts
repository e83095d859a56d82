import { OperationContext, createServiceContainer, type AcquireEvent } from '@lifeguard/core'
import { Kysely, PostgresDialect, sql } from 'kysely'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { PostgresPool } from '../src/index.js'
import { waitForConnectionCount } from '@lifeguard/test-kit'
import { testPool } from './_helpers/pools.js'

const table = `kysely_orders_${process.pid}`

interface Database {
  [table]: { id: number; total: number }
}

const test = suite<{ pool: PostgresPool; appName: string; db: Kysely<Database>; acquires: AcquireEvent[] }>('Kysely PostgresDialect on a Lifeguard pool')

test.before(async (context) => {
  const acquires: AcquireEvent[] = []
  const { pool, appName } = testPool('kysely', { maxSize: 3, events: { onAcquire: (e) => void acquires.push(e) } })
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
  await db.schema.createTable(table).ifNotExists().addColumn('id', 'integer', (c) => c.primaryKey()).addColumn('total', 'integer', (c) => c.notNull()).execute()
  Object.assign(context, { pool, appName, db, acquires })
})

test.after(async ({ pool, appName, db }) => {
  await db.schema.dropTable(table).ifExists().execute()
  await db.destroy()
  assert.is(pool.state, 'closed', 'Kysely ends the pool it was given, as with a pg.Pool')
  await waitForConnectionCount(appName, 0)
})

test('inserts and selects through the Lifeguard pool', async ({ db, pool }) => {
  await db.insertInto(table).values([{ id: 1, total: 10 }, { id: 2, total: 20 }]).execute()
  const rows = await db.selectFrom(table).selectAll().where('total', '>', 15).execute()
  assert.equal(rows, [{ id: 2, total: 20 }])
  assert.is(pool.activeCount, 0)
  assert.ok(pool.getPoolMetrics().useTime.count >= 3)
})

test('commits and rolls back Kysely transactions on one checked-out client', async ({ db, pool }) => {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto(table).values({ id: 3, total: 30 }).execute()
    assert.is(pool.activeCount, 1)
  })
  const failed = await db
    .transaction()
    .execute(async (trx) => {
      await trx.insertInto(table).values({ id: 4, total: 40 }).execute()
      throw new Error('undo')
    })
    .catch((error: unknown) => error)
  assert.is((failed as Error).message, 'undo')
  const ids = await db.selectFrom(table).select('id').orderBy('id').execute()
  assert.equal(ids.map((row) => row.id), [1, 2, 3])
  assert.is(pool.activeCount, 0)
})

test('records the owning operation of Kysely checkouts', async ({ db, acquires }) => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer(), requestId: 'r-1' })
  const before = acquires.length
  const result = await context.run(() => sql<{ n: number }>`SELECT 41 + 1 AS n`.execute(db))
  assert.equal(result.rows, [{ n: 42 }])
  assert.equal(acquires.slice(before).map((e) => e.owner), [{ handler: 'orders-api', operation: 'GET /orders', requestId: 'r-1' }])
  await context.dispose()
})

test.run()
