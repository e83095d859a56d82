import { DisposedError, OperationAbortedError, OperationContext, createServiceContainer, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresHandle, PostgresRollbackError, registerPostgres, type PostgresPool } from '../src/index.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'
import { closeAndCheck, sleep, testPool, until } from './_helpers/pools.js'

interface Context {
  main: PostgresPool
  mainApp: string
  orders: PostgresPool
  ordersApp: string
}

const test = suite<Context>('context.postgres query')

test.before((context) => {
  const main = testPool('handle-main', { maxSize: 2, acquireTimeoutMillis: 5000 })
  const orders = testPool('handle-orders')
  Object.assign(context, { main: main.pool, mainApp: main.appName, orders: orders.pool, ordersApp: orders.appName })
})

test.after(async ({ main, mainApp, orders, ordersApp }) => {
  await closeAndCheck(main, mainApp)
  await closeAndCheck(orders, ordersApp)
})

function containerFor({ main, orders }: Context) {
  const container = createServiceContainer()
  registerPostgres(container, main)
  registerPostgres(container, orders, { name: 'orders' })
  return container
}

test('context.postgres is one handle per operation, bound to that operation', async (pools) => {
  const container = containerFor(pools)
  const a = OperationContext.create('api', 'GET /a', { container })
  const b = OperationContext.create('api', 'GET /b', { container })
  assert.instance(a.postgres, PostgresHandle)
  assert.is(a.postgres, a.postgres)
  assert.is(a.postgres, a.get('postgres'))
  assert.is.not(a.postgres, b.postgres)
  assert.is(a.postgres.context, a)
  assert.is(a.postgres.pool, pools.main)
  await Promise.all([a.dispose(), b.dispose()])
})

test('query() runs on the default pool and context.get() reaches the others', async (pools) => {
  await runOperation('worker', 'report', async (context) => {
    const main = await context.postgres.query<{ app: string }>("SELECT current_setting('application_name') AS app")
    const orders = await context.get<PostgresHandle>('orders').query<{ app: string; n: number }>("SELECT current_setting('application_name') AS app, $1::int AS n", [7])
    assert.is(main.rows[0]?.app, pools.mainApp)
    assert.equal(orders.rows[0], { app: pools.ordersApp, n: 7 })
    assert.is(context.postgres.heldCount, 0, 'a query holds its client only while it runs')
  }, { container: containerFor(pools) })
  assert.is(pools.main.activeCount, 0)
})

test('concurrent operations stay isolated and share the pool', async (pools) => {
  const container = containerFor(pools)
  const results = await Promise.all(
    [1, 2, 3, 4, 5].map((n) => runOperation('api', 'GET /n', (context) => context.postgres.query<{ n: number }>('SELECT $1::int AS n, pg_sleep(0.01)', [n]), { container })),
  )
  assert.equal(results.map((r) => r.rows[0]?.n), [1, 2, 3, 4, 5])
  assert.ok(pools.main.totalCount <= 2)
})

test('a server error keeps the connection; the error reaches the caller', async (pools) => {
  const reasons: string[] = []
  const off = pools.main.on('disconnect', (e) => void reasons.push(e.reason))
  const total = pools.main.totalCount
  const error = await runOperation('api', 'bad', (context) => context.postgres.query('SELEC 1'), { container: containerFor(pools) }).catch((caught: unknown) => caught)
  assert.is((error as { code?: string }).code, '42601')
  await sleep(10)
  assert.equal(reasons, [])
  assert.is(pools.main.totalCount, total)
  off()
})

test('a lone BEGIN never hands an open transaction to the next caller, and says so', async (pools) => {
  const reasons: string[] = []
  const off = pools.main.on('disconnect', (e) => void reasons.push(e.reason))
  await runOperation('api', 'begin', async (context) => {
    // No transaction is open for the caller's next query: it is told so, rather than told BEGIN succeeded.
    const error = await rejects(context.postgres.query('BEGIN'), PostgresRollbackError, 'ERR_POSTGRES_ROLLED_BACK')
    assert.is(error.reason, 'left-open')
    const { rows } = await context.postgres.query<{ status: string }>('SELECT now() = statement_timestamp() AS status')
    assert.is(rows[0]?.status, true, 'the next query is not inside that transaction')
  }, { container: containerFor(pools) })
  await until('the connection to close', () => reasons.length === 1)
  assert.equal(reasons, ['error'])
  off()
})

test('a query whose text leaves a transaction open rejects, typed, instead of reporting work the server rolls back', async (pools) => {
  const table = `handle_left_open_${process.pid}`
  await pools.main.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`)
  const failures: string[] = []
  const off = pools.main.on('query', (e) => void failures.push(e.error === undefined ? 'ok' : (e.error as { code?: string }).code ?? '?'))
  try {
    await runOperation('api', 'left-open', async (context) => {
      // Before, it resolved with the INSERT's rowCount 1 while its connection was closed, rolling the INSERT back.
      const error = await rejects(context.postgres.query(`BEGIN; INSERT INTO ${table} (id) VALUES (1)`), PostgresRollbackError, 'ERR_POSTGRES_ROLLED_BACK')
      assert.is(error.reason, 'left-open')
      assert.is(error.mayHaveCommitted, false)
      assert.is(error.cause, undefined)
      assert.is(error.message, "Could not run a query on pool 'handle-main'. It left a transaction open (a `BEGIN` without `COMMIT`), so that transaction was rolled back and the connection closed, so none of it took effect. Use transaction() for multi-statement work.")
      // Statements a COMMIT ended before the BEGIN took effect: it does not say none did.
      const committed = await rejects(context.postgres.query(`INSERT INTO ${table} (id) VALUES (2); COMMIT; BEGIN; INSERT INTO ${table} (id) VALUES (3)`), PostgresRollbackError)
      assert.is(committed.mayHaveCommitted, true)
      assert.match(committed.message, 'its text also had a `COMMIT` (before that `BEGIN`, or a `COMMIT AND CHAIN`, which began it)')
      // Nor when a COMMIT AND CHAIN committed what came before it and began the transaction left open. Before: false.
      const chained = await rejects(context.postgres.query(`BEGIN; INSERT INTO ${table} (id) VALUES (4); COMMIT AND CHAIN`), PostgresRollbackError)
      assert.is(chained.reason, 'left-open')
      assert.is(chained.mayHaveCommitted, true)
    }, { container: containerFor(pools) })
    assert.equal((await pools.main.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)).rows, [{ id: 2 }, { id: 4 }])
    assert.equal(failures.slice(0, 3), ['ERR_POSTGRES_ROLLED_BACK', 'ERR_POSTGRES_ROLLED_BACK', 'ERR_POSTGRES_ROLLED_BACK'], 'the query events say it failed')
    assert.is(pools.main.activeCount, 0)
  } finally {
    off()
    await pools.main.query(`DROP TABLE IF EXISTS ${table}`)
  }
})

test('a query that begins a transaction and then fails never hands that failed transaction to the next caller', async (pools) => {
  const reasons: string[] = []
  const off = pools.main.on('disconnect', (e) => void reasons.push(e.reason))
  await runOperation('api', 'begin-and-fail', async (context) => {
    const error = await context.postgres.query('BEGIN; SELECT 1/0').catch((caught: unknown) => caught)
    assert.is((error as { code?: string }).code, '22012')
    // Before: 25P02 "current transaction is aborted" for every later caller of that connection.
    const { rows } = await context.postgres.query<{ outside: boolean }>('SELECT now() = statement_timestamp() AS outside')
    assert.is(rows[0]?.outside, true, 'the next query runs outside any transaction')
  }, { container: containerFor(pools) })
  await until('the connection to close', () => reasons.length === 1)
  assert.equal(reasons, ['error'])
  off()
})

test('a failed query with a row limit settles without waiting, and gives its client back (pg sends no Sync after it)', async () => {
  // A manual clock that never moves: nothing may wait for a timer of the pool's.
  const { pool, appName } = testPool('handle-rows-fail', { maxSize: 1, clock: new ManualClock() })
  const failing = pool.query({ text: 'SELECT 1/0', rows: 1 } as never).then(() => 'resolved', (error: { code?: string }) => error.code)
  // Only bounds a failure: a wait for ReadyForQuery would never end.
  const outcome = await Promise.race([failing, new Promise((resolve) => setTimeout(() => resolve('still pending'), 5_000).unref())])
  assert.is(outcome, '22012')
  assert.is(pool.activeCount, 0)
  assert.equal((await pool.query('SELECT 1 AS n')).rows, [{ n: 1 }])
  await closeAndCheck(pool, appName)
})

test('waiting for a client honours the operation signal and its deadline', async (pools) => {
  const held = [await pools.main.connect(), await pools.main.connect()]
  const controller = new AbortController()
  const aborted = OperationContext.create('api', 'GET /slow', { container: containerFor(pools), signal: controller.signal })
  const waiting = aborted.postgres.query('SELECT 1')
  await sleep(10)
  controller.abort()
  await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  const late = OperationContext.create('api', 'GET /late', { container: containerFor(pools), deadlineMillis: 50 })
  const started = Date.now()
  const error = await rejects(late.postgres.query('SELECT 1'), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.ok(Date.now() - started < 1000)
  assert.is((error.cause as DOMException).name, 'TimeoutError')
  assert.is(pools.main.waitingCount, 0)
  for (const client of held) client.release()
  await Promise.all([aborted.dispose(), late.dispose()])
  assert.is(pools.main.activeCount, 0)
})

test('a disposed handle refuses new work with DisposedError', async (pools) => {
  const context = OperationContext.create('api', 'GET /done', { container: containerFor(pools) })
  const handle = context.postgres
  await context.dispose()
  assert.ok(handle.disposed)
  const error = await rejects(handle.query('SELECT 1'), DisposedError, 'ERR_DISPOSED')
  assert.match(error.message, "Could not run a query on pool 'handle-main'. The handle is disposed")
  await rejects(handle.connect(), DisposedError, 'ERR_DISPOSED')
  await rejects(handle.transaction(() => 1), DisposedError, 'ERR_DISPOSED')
})

test.run()
