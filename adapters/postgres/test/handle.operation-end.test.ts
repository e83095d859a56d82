import { DisposedError, OperationAbortedError, OperationContext, createServiceContainer, runOperation, type PoolEventMap } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { registerPostgres } from '../src/index.js'
import { rejects } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite("An operation's end is honoured by the PostgreSQL pool")

test('an aborted operation gets no connection, even when one sits idle, on every path', async () => {
  const { pool, appName } = testPool('end-aborted', { maxSize: 2 })
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: 2 })
  const context = OperationContext.create('api', 'GET /gone', { container })
  context.abort(new Error('client went away'))
  const db = context.postgres
  await rejects(db.query('SELECT 1'), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await rejects(db.connect(), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await rejects(db.transaction(async () => undefined), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await rejects(context.run(() => pool.query('SELECT 1')), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await rejects(context.run(() => pool.connect()), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.equal([pool.activeCount, pool.idleCount], [0, 2])
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test("disposing an operation takes its pending checkouts out of the queue at once, with a typed error", async () => {
  const { pool, appName } = testPool('end-disposed', { maxSize: 1, acquireTimeoutMillis: 60_000 })
  const container = registerPostgres(createServiceContainer(), pool)
  const holder = await pool.connect()
  let pending: Promise<unknown>[] = []
  await runOperation('worker', 'fire-and-forget', (context) => {
    // Started and not awaited: the job returns while they wait for the held connection.
    pending = [context.postgres.connect(), context.postgres.query('SELECT 1')]
  }, { container })
  assert.is(pool.waitingCount, 0, 'no longer waiting once the operation ended')
  for (const waiting of pending) {
    const error = await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
    assert.instance(error.cause, DisposedError)
  }
  holder.release()
  assert.equal([pool.activeCount, pool.idleCount], [0, 1], 'nobody took the released connection')
  await closeAndCheck(pool, appName)
})

test("listeners run in the operation that owns the checkout, never in a bystander's", async () => {
  const { pool, appName } = testPool('end-listeners', { maxSize: 2 })
  const container = registerPostgres(createServiceContainer(), pool)
  // A logger that takes the request id from the current context, as request-scoped loggers do.
  const logged: { event: string; owner: string | undefined; current: string | undefined }[] = []
  const log = (event: string) => (e: PoolEventMap['acquire'] | PoolEventMap['release']) => {
    logged.push({ event, owner: e.owner?.requestId, current: OperationContext.tryCurrent()?.requestId })
  }
  pool.on('acquire', log('acquire'))
  pool.on('release', log('release'))
  const disconnects: (string | undefined)[] = []
  pool.on('disconnect', () => void disconnects.push(OperationContext.tryCurrent()?.requestId))
  await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      runOperation('api', 'GET /n', async (context) => {
        await context.postgres.query('SELECT pg_sleep(0.001)')
        await context.postgres.transaction((tx) => tx.query('SELECT 1'))
      }, { container, requestId: `req-${i}` }),
    ),
  )
  assert.is(logged.length, 160)
  for (const entry of logged) assert.is(entry.current, entry.owner, `${entry.event} of ${entry.owner} ran in ${entry.current}`)
  await closeAndCheck(pool, appName)
  assert.ok(disconnects.length > 0)
  assert.equal([...new Set(disconnects)], [undefined], 'pool-level events run outside any operation')
})

// Runs `run` with `onBegin` called the moment a BEGIN is on the wire: the server answers it before any cancel
// could land.
async function whenBeginSent<T>(onBegin: () => void, run: () => Promise<T>): Promise<T> {
  const query = pg.Client.prototype.query
  pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
    const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string } | undefined)?.text
    const sent = (query as (...a: unknown[]) => unknown).apply(this, args)
    if (text?.startsWith('BEGIN')) onBegin()
    return sent
  } as typeof query
  try {
    return await run()
  } finally {
    pg.Client.prototype.query = query
  }
}

test('an operation aborted while BEGIN runs does not start the callback: rolled back, the connection closed', async () => {
  const { pool, appName } = testPool('end-during-begin', { maxSize: 1 })
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: 1 })
  const controller = new AbortController()
  let called = false
  const error = await whenBeginSent(
    () => controller.abort(new Error('client went away')),
    () => rejects(runOperation('api', 'POST /charge', (context) => context.postgres.transaction(async () => void (called = true)), { container, signal: controller.signal }), OperationAbortedError, 'ERR_OPERATION_ABORTED'),
  )
  assert.match(error.message, 'start a transaction')
  // Before, the callback ran (its side effects with it) and failed only at its first statement.
  assert.not.ok(called, 'the callback did not start')
  await closeAndCheck(pool, appName)
})

test('a handle disposed while BEGIN runs does not start the callback either', async () => {
  const { pool, appName } = testPool('disposed-during-begin', { maxSize: 1 })
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: 1 })
  const context = OperationContext.create('worker', 'charge', { container })
  let called = false
  let disposing: Promise<void> | undefined
  const error = await whenBeginSent(
    () => void (disposing = context.dispose()),
    () => rejects(context.postgres.transaction(async () => void (called = true)), DisposedError, 'ERR_DISPOSED'),
  )
  assert.match(error.message, 'start a transaction')
  assert.not.ok(called, 'the callback did not start')
  await disposing
  await closeAndCheck(pool, appName)
})

test.run()
