import { createServiceContainer, OperationContext, runOperation, type QueryEvent } from '@lifeguard/core'
import { systemClock, type Clock } from '@lifeguard/core/adapter'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresHandle, Pool, registerPostgres, type PostgresHandle } from '../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('PostgreSQL query events')

interface Seen {
  event: QueryEvent
  /** The operation the listener ran in. */
  operation: string | undefined
}

function recorder(): { seen: Seen[]; onQuery: (event: QueryEvent) => void } {
  const seen: Seen[] = []
  return { seen, onQuery: (event) => void seen.push({ event, operation: OperationContext.tryCurrent()?.operation }) }
}

const secretValue = 'card-4242-4242'

test('pool.query() reports one event per query: its duration, its first keyword, in the operation that ran it', async () => {
  const { seen, onQuery } = recorder()
  const { pool, appName } = testPool('query-events-one', { events: { onQuery } })
  const container = createServiceContainer()
  registerPostgres(container, pool)
  await runOperation('orders-api', 'GET /orders/:id', async (context) => {
    await context.postgres.query('select pg_sleep(0.005), $1::text AS card', [secretValue])
    await context.postgres.query({ text: '  INSERT INTO pg_temp.nowhere VALUES (1)' }).catch(() => undefined)
  }, { container })
  await pool.query('WITH one AS (SELECT 1) SELECT * FROM one')
  assert.is(seen.length, 3)
  assert.is(seen[0]?.event.operation, 'SELECT')
  assert.ok((seen[0]?.event.durationMillis ?? 0) >= 5, `at least the 5 ms slept, got ${seen[0]?.event.durationMillis}`)
  assert.is(seen[0]?.operation, 'GET /orders/:id')
  assert.equal(Object.keys(seen[0]?.event ?? {}).sort(), ['durationMillis', 'kind', 'namespace', 'operation', 'pool'])
  assert.is(seen[0]?.event.namespace, pgConfig().database, 'the database it ran in')
  assert.is(seen[1]?.event.operation, 'INSERT')
  assert.is((seen[1]?.event.error as { code?: string } | undefined)?.code, '42P01', 'the server\'s SQLSTATE (undefined table)')
  assert.is(seen[1]?.operation, 'GET /orders/:id')
  assert.is(seen[2]?.event.operation, 'SELECT', "a read-only WITH is named after its main statement")
  assert.is(seen[2]?.operation, undefined, 'outside any operation')
  assert.not.match(JSON.stringify(seen.map((s) => s.event)), secretValue)
  await container.dispose()
  await closeAndCheck(pool, appName)
})

test('a transaction reports BEGIN, each statement and COMMIT, or ROLLBACK when it fails', async () => {
  const { seen, onQuery } = recorder()
  const { pool, appName } = testPool('query-events-tx', { events: { onQuery } })
  const container = createServiceContainer()
  registerPostgres(container, pool)
  await runOperation('billing-worker', 'charge', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query('SELECT 1')
      await tx.query('SELECT 2')
    }, { isolationLevel: 'serializable' }),
    { container },
  )
  assert.equal(seen.map((s) => s.event.operation), ['BEGIN', 'SELECT', 'SELECT', 'COMMIT'])
  assert.ok(seen.every((s) => s.operation === 'charge'), 'every statement in the job that ran it')
  seen.length = 0
  const failed = await runOperation('billing-worker', 'refund', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query('SELECT 1/0')
    }),
    { container },
  ).catch((error: unknown) => error)
  assert.is((failed as { code?: string }).code, '22012')
  assert.equal(seen.map((s) => s.event.operation), ['BEGIN', 'SELECT', 'ROLLBACK'])
  assert.is((seen[1]?.event.error as { code?: string } | undefined)?.code, '22012', 'division by zero')
  assert.ok(seen.every((s) => s.operation === 'refund'))
  await container.dispose()
  await closeAndCheck(pool, appName)
})

test('a handle disposed with its transaction open reports the ROLLBACK it sends', async () => {
  const { seen, onQuery } = recorder()
  const { pool, appName } = testPool('query-events-dispose', { events: { onQuery } })
  const handle: PostgresHandle = createPostgresHandle(pool)
  let entered!: () => void
  let finish!: () => void
  const inside = new Promise<void>((resolve) => (entered = resolve))
  const finished = new Promise<void>((resolve) => (finish = resolve))
  const running = handle.transaction(async (tx) => {
    await tx.query('SELECT 1')
    entered()
    await finished
  })
  await inside
  await handle.dispose()
  finish()
  const error = await running.catch((failure: unknown) => failure)
  assert.is((error as { code?: string }).code, 'ERR_DISPOSED', 'it never commits')
  assert.equal(seen.map((s) => s.event.operation), ['BEGIN', 'SELECT', 'ROLLBACK'])
  await closeAndCheck(pool, appName)
})

test('the pg.Pool-compatible Pool reports its queries the same way', async () => {
  const { seen, onQuery } = recorder()
  const appName = uniqueAppName('query-events-drop-in')
  const pool = new Pool({ ...pgConfig(), application_name: appName, max: 2, events: { onQuery } })
  await pool.query('SELECT 1')
  await new Promise<void>((resolve, reject) => pool.query('UPDATE pg_temp.nowhere SET x = 1', (error) => (error ? resolve() : reject(new Error('expected a failure')))))
  assert.equal(seen.map((s) => s.event.operation), ['SELECT', 'UPDATE'])
  assert.is(seen[0]?.event.pool, pool.name)
  await pool.close()
  await waitForConnectionCount(appName, 0)
})

test('with nobody listening, a query reads the clock no more often than before', async () => {
  let reads = 0
  const clock: Clock = { ...systemClock, now: () => (reads++, systemClock.now()) }
  const { pool, appName } = testPool('query-events-cost', { clock })
  await pool.query('SELECT 1') // opens the connection
  const readsFor = async (count: number): Promise<number> => {
    const before = reads
    for (let i = 0; i < count; i++) await pool.query('SELECT 1')
    return reads - before
  }
  const unheard = await readsFor(10)
  const off = pool.events.on('query', () => undefined)
  const heard = await readsFor(10)
  off()
  assert.is(heard - unheard, 20, 'two clock readings per query, only while someone listens')
  assert.is(await readsFor(10), unheard)
  await closeAndCheck(pool, appName)
})

test.run()
