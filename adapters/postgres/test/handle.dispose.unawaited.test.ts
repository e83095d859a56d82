import { OperationContext, createServiceContainer } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresHandle, registerPostgres, type PostgresHandle, type PostgresPool } from '../src/index.js'
import { ManualClock, pgConfig, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, outcomeNow, settlesWithin, testPool, until } from './_helpers/pools.js'
import { untilRunning } from './_helpers/server-statements.js'
import { silentProxy } from './_helpers/silent-proxy.js'

const table = `handle_dispose_unawaited_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string }>('disposing a handle whose transaction() was left unawaited')

test.before(async (context) => {
  const { pool, appName } = testPool('handle-dispose-unawaited', { maxSize: 2 })
  // A COMMIT that takes a second on the server: a deferred trigger sleeps at commit time.
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`)
  await pool.query(`CREATE OR REPLACE FUNCTION ${table}_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$`)
  await pool.query(`DROP TRIGGER IF EXISTS ${table}_slow ON ${table}`)
  await pool.query(`CREATE CONSTRAINT TRIGGER ${table}_slow AFTER INSERT ON ${table} DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ${table}_slow()`)
  Object.assign(context, { pool, appName })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await pool.query(`DROP FUNCTION IF EXISTS ${table}_slow()`)
  await closeAndCheck(pool, appName)
})

// The handle of an operation (disposed with it, never aborted), or one made with no operation.
const handles = {
  operation: (pool: PostgresPool) => {
    const context = OperationContext.create('api', 'unawaited', { container: registerPostgres(createServiceContainer(), pool) })
    return { handle: context.postgres, dispose: () => context.dispose() }
  },
  'no operation': (pool: PostgresPool) => {
    const handle: PostgresHandle = createPostgresHandle(pool)
    return { handle, dispose: () => handle.dispose() }
  },
}

for (const [kind, make] of Object.entries(handles)) {
  test(`(${kind}) a ROLLBACK after the callback threw, its server gone silent, is given up 2 s after the disposal, which waits for it`, async () => {
    const proxy = await silentProxy(pgConfig())
    const clock = new ManualClock()
    try {
      const { pool, appName } = testPool(`handle-dispose-unawaited-silent-${kind.replace(' ', '-')}`, { host: proxy.host, port: proxy.port, maxSize: 1, clock })
      const { handle, dispose } = make(pool)
      await handle.query('SELECT 1')
      // Left unawaited by its handler: nothing aborts, the operation just ends.
      const running = handle
        .transaction(async (tx) => {
          await tx.query('SELECT 2')
          // The ROLLBACK that follows goes into the silence.
          proxy.silence()
          throw new Error('payment failed')
        })
        .then(() => 'committed', (error: unknown) => error)
      await until('the ROLLBACK sent', () => proxy.swallowed() > 0)
      const disposed = dispose().then(() => 'disposed')
      await clock.advance(1_999)
      // Before: the disposal was done at once, and the ROLLBACK, with its client, waited until TCP gave up.
      assert.is(await outcomeNow(disposed), 'pending', 'the disposal waits for the ROLLBACK')
      assert.is(await outcomeNow(running), 'pending', 'a server that answers late is waited for')
      await clock.advance(1)
      const outcome = await settlesWithin('the transaction', running)
      assert.is((outcome as Error).message, 'payment failed')
      assert.is(await settlesWithin('the disposal', disposed), 'disposed')
      assert.is(proxy.cancelRequests(), 0, 'a ROLLBACK is not cancelled')
      await until('the connection closed', () => pool.totalCount === 0)
      await pool.close()
      // The server's session outlives the partition's far side until it notices; the proxy ending it ends it.
      await proxy.close()
      await closeAndCheck(pool, appName)
    } finally {
      await proxy.close()
    }
  })
}

test("the callback's own COMMIT, running when the operation is disposed, is not cancelled: it takes effect, and the disposal waits for it", async ({ pool, appName }) => {
  const { handle, dispose } = handles.operation(pool)
  let resume: () => void = () => undefined
  let commit: Promise<unknown> | undefined
  const running = handle
    .transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (1)`)
      commit = tx.query('COMMIT /* own-commit-at-dispose */').then(() => 'committed', (error: unknown) => error)
      await new Promise<void>((resolve) => (resume = resolve))
    })
    .then(() => 'resolved', (error: unknown) => error)
  await untilRunning(appName, 'own-commit-at-dispose')
  await settlesWithin('the disposal', dispose())
  // Before: the disposal cancelled it, and nothing was committed.
  assert.is(await settlesWithin('the COMMIT', commit as Promise<unknown>), 'committed')
  const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = 1`)
  assert.is(rows.length, 1, 'committed')
  resume()
  await settlesWithin('the transaction', running)
  await until('every client back', () => pool.activeCount === 0)
  // The server holds no session beyond the pool's own: the connection closed after the COMMIT is gone there too.
  await waitForConnectionCount(appName, pool.totalCount)
})

test("a ROLLBACK queued behind the callback's own COMMIT is not bounded by the disposal: the COMMIT is not cut short", async () => {
  const clock = new ManualClock()
  const { pool, appName } = testPool('handle-dispose-unawaited-behind-commit', { maxSize: 1, clock })
  const { handle, dispose } = handles.operation(pool)
  let commit: Promise<unknown> | undefined
  let failed = false
  const running = handle
    .transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (2)`)
      commit = tx.query('COMMIT /* behind-own-commit */').then(() => 'committed', (error: unknown) => error)
      await untilRunning(appName, 'behind-own-commit')
      failed = true
      throw new Error('validation failed')
    })
    .then(() => 'resolved', (error: unknown) => error)
  await until('the callback failed', () => failed)
  // transaction() has queued its ROLLBACK behind the COMMIT (a turn of the event loop after the callback threw).
  await new Promise((resolve) => setImmediate(resolve))
  const disposed = dispose()
  // Past the 2 s a ROLLBACK is given once bounded, while the COMMIT still runs (its trigger sleeps a second).
  await clock.advance(2_000)
  assert.is(await settlesWithin('the COMMIT', commit as Promise<unknown>), 'committed')
  assert.is(((await settlesWithin('the transaction', running)) as Error).message, 'validation failed')
  await settlesWithin('the disposal', disposed)
  const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = 2`)
  assert.is(rows.length, 1, 'committed')
  await closeAndCheck(pool, appName)
})

test.run()
