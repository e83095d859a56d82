import { DisposedError, OperationAbortedError, OperationContext, createServiceContainer, runOperation, type ServiceContainer } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresHandle, registerPostgres, type PostgresPool, type PostgresPoolClient } from '../src/index.js'
import { rejects, runningStatementCount, serverConnectionCount, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, sleep, testPool, until } from './_helpers/pools.js'

const table = `handle_dispose_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string; container: ServiceContainer }>('context.postgres dispose')

test.before(async (context) => {
  const { pool, appName } = testPool('handle-dispose', { maxSize: 3 })
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int)`)
  Object.assign(context, { pool, appName, container: registerPostgres(createServiceContainer(), pool) })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

async function count(pool: PostgresPool): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table}`)
  return rows[0]?.n ?? -1
}

test('closes a client the handler never released: no one else gets it, and a late release() is ignored', async ({ pool, container }) => {
  let forgotten: PostgresPoolClient | undefined
  await runOperation('api', 'forgetful', async (context) => {
    forgotten = await context.postgres.connect()
    await forgotten.query('SELECT 1')
    assert.is(context.postgres.heldCount, 1)
    assert.is(pool.activeCount, 1)
  }, { container })
  assert.is(pool.activeCount, 0)
  assert.is(pool.idleCount, pool.totalCount)
  const client = forgotten!
  forgotten?.release()
  await rejects(client.query('SELECT 1'), Error)
  assert.is(pool.activeCount, 0)
})

test('a statement still running when its operation ends is cancelled with its session, never run in the next holder', async ({ pool, appName, container }) => {
  const context = OperationContext.create('api', 'outlived', { container })
  const client = await context.postgres.connect()
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  const before = await serverConnectionCount(appName)
  const slow = client.query('SELECT pg_sleep(60)').then(() => undefined, (error: unknown) => error)
  // Running on the server when the operation ends (one sent a moment before is cancelled too: sent again).
  for (let i = 0; i < 500 && (await runningStatementCount(appName, 'pg_sleep')) === 0; i++) await sleep(10)
  await context.dispose()
  assert.instance(await slow, Error, 'the running statement failed')
  // Cancelled on the server too: its session ends now, not when the statement would have.
  await waitForConnectionCount(appName, before - 1)
  const next = await pool.connect()
  try {
    const other = await next.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    assert.is.not(other.rows[0]?.pid, rows[0]?.pid, 'the next holder has another session')
  } finally {
    next.release()
  }
})

test('a connect() or transaction() whose checkout lands as the handle is disposed leaves nothing held: whatever turn the disposal comes in', async ({ pool }) => {
  await pool.warmup({ connections: 1 })
  for (const way of ['connect', 'transaction'] as const) {
    for (let turns = 0; turns < 8; turns++) {
      const handle = createPostgresHandle(pool)
      let ran = false
      const taking = way === 'connect' ? handle.connect() : handle.transaction(async () => void (ran = true))
      const outcome = taking.then(
        () => 'taken',
        (error: unknown) => (error instanceof DisposedError ? 'refused' : String(error)),
      )
      for (let i = 0; i < turns; i++) await Promise.resolve()
      await handle.dispose()
      const settled = await outcome
      assert.ok(settled === 'taken' || settled === 'refused', `${way}, disposed after ${turns} turns: ${settled}`)
      // Nothing the disposed handle took is still checked out (a client handed to it after its disposal was).
      await until(`${way}, ${turns} turns: every client back`, () => pool.getPoolMetrics().activeConnections === 0)
      if (way === 'transaction' && settled === 'refused') assert.not.ok(ran, 'fn never ran after the disposal')
    }
  }
})

test('a client released by the handler is no longer held', async ({ pool, container }) => {
  const context = OperationContext.create('api', 'tidy', { container })
  const client = await context.postgres.connect()
  client.release()
  assert.is(context.postgres.heldCount, 0)
  await context.dispose()
  assert.is(pool.activeCount, 0)
})

test('a transaction left open on a held client ends with its connection', async ({ pool, container }) => {
  const context = OperationContext.create('api', 'open-tx', { container })
  const client = await context.postgres.connect()
  await client.query('BEGIN')
  await client.query(`INSERT INTO ${table} (id) VALUES (1)`)
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  await context.dispose()
  // Its session is gone from the server (another session would not see the uncommitted row either way).
  await waitForSessionGone(pool, rows[0]!.pid)
  assert.is(await count(pool), 0)
  assert.is(pool.activeCount, 0)
})

async function waitForSessionGone(pool: PostgresPool, pid: number): Promise<void> {
  for (let tries = 0; tries < 500; tries++) {
    const { rows } = await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE pid = $1', [pid])
    if (rows[0]?.n === 0) return
    await sleep(10)
  }
  assert.unreachable(`session ${pid} still open`)
}

test('rolls back a transaction() still running, and its late queries fail', async ({ pool, container }) => {
  const context = OperationContext.create('api', 'aborted-tx', { container })
  let resume: () => void = () => undefined
  const gate = new Promise<void>((resolve) => (resume = resolve))
  const running = context.postgres.transaction(async (tx) => {
    await tx.query(`INSERT INTO ${table} (id) VALUES (2)`)
    await gate
    await tx.query(`INSERT INTO ${table} (id) VALUES (3)`)
  })
  const outcome = running.then(() => undefined, (error: unknown) => error)
  await sleep(30)
  await context.dispose()
  assert.is(pool.activeCount, 0)
  resume()
  const error = await outcome
  assert.instance(error, DisposedError)
  assert.match((error as Error).message, 'The transaction has already finished')
  assert.is(await count(pool), 0)
})

test('a checkout still waiting when the operation is disposed leaves the queue and gets nothing', async ({ pool, container }) => {
  const held = await Promise.all([pool.connect(), pool.connect(), pool.connect()])
  const context = OperationContext.create('api', 'late', { container })
  const waiting = context.postgres.connect()
  const outcome = waiting.then(() => undefined, (error: unknown) => error)
  await until('the checkout to wait', () => pool.waitingCount === 1)
  const disposing = context.dispose()
  assert.is(pool.waitingCount, 0)
  held.pop()?.release()
  const error = await outcome
  assert.instance(error, OperationAbortedError)
  assert.instance((error as Error).cause, DisposedError)
  await disposing
  for (const client of held) client.release()
  assert.is(pool.activeCount, 0)
})

test('await using disposes a standalone handle at the end of the block', async ({ pool }) => {
  let handleRef: ReturnType<typeof createPostgresHandle> | undefined
  {
    await using handle = createPostgresHandle(pool)
    handleRef = handle
    await handle.connect()
    assert.is(pool.activeCount, 1)
  }
  assert.ok(handleRef?.disposed)
  assert.is(pool.activeCount, 0)
  await rejects(handleRef.query('SELECT 1'), DisposedError, 'ERR_DISPOSED')
})

test("a query the job never awaited runs to its end, and the job's disposal waits for it: its connection is back when runOperation returns", async ({ pool, container }) => {
  let unawaited: Promise<unknown> | undefined
  await runOperation('jobs', 'fire-and-forget', (context) => {
    // An audit line written without waiting for it.
    unawaited = context.postgres.query(`INSERT INTO ${table} SELECT 42 FROM pg_sleep(0.05)`)
  }, { container })
  assert.is(pool.activeCount, 0, 'its connection is back')
  await unawaited
  const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE id = 42`)
  assert.equal(rows, [{ n: 1 }], 'the statement ran to its end')
  await pool.query(`DELETE FROM ${table} WHERE id = 42`)
})

test('unawaited queries that run when the job ends still run to their end when a sibling is still waiting for a connection: only that one is refused', async () => {
  const { pool, appName } = testPool('handle-dispose-siblings', { maxSize: 2 })
  const siblings = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: 2 })
  const outcomes: Promise<string>[] = []
  const settle = (query: Promise<unknown>): Promise<string> => query.then(() => 'ran', (error: { code?: string }) => error.code ?? 'failed')
  await runOperation('jobs', 'fan-out', (context) => {
    // Two take the pool's two connections; the third waits for one of them.
    outcomes.push(settle(context.postgres.query('SELECT pg_sleep(0.05)')), settle(context.postgres.query('SELECT pg_sleep(0.05)')))
    outcomes.push(settle(context.postgres.query('SELECT 1')))
  }, { container: siblings })
  // Before: ending the job with the third one waiting aborted the whole operation, which cancelled the two.
  assert.is(pool.activeCount, 0, 'the disposal waited for the two running ones')
  assert.equal(await Promise.all(outcomes), ['ran', 'ran', 'ERR_OPERATION_ABORTED'])
  await siblings.dispose()
  await closeAndCheck(pool, appName)
})

test('dispose is idempotent', async ({ container }) => {
  const context = OperationContext.create('api', 'twice', { container })
  const handle = context.postgres
  await handle.connect()
  await Promise.all([handle.dispose(), handle.dispose()])
  await handle.dispose()
  assert.is(handle.heldCount, 0)
  await context.dispose()
})


test("a disposer's cleanup query runs after its operation aborted, and counts as that operation's", async ({ pool }) => {
  const owners: (string | undefined)[] = []
  const off = pool.events.on('acquire', (event) => void owners.push(event.owner?.requestId))
  let cleanup: number | undefined
  // A job that ignores its deadline; its scoped service releases what it holds when the job's scope is disposed.
  const container = createServiceContainer().scoped('lock', () => ({}), {
    dispose: async () => {
      const { rows } = await pool.query<{ n: number }>('SELECT 1 AS n')
      cleanup = rows[0]?.n
    },
  })
  const controller = new AbortController()
  await runOperation('jobs', 'release-lock', (context) => {
    context.get('lock')
    controller.abort(new Error('deadline'))
  }, { container, signal: controller.signal, requestId: 'job-1' })
  assert.is(cleanup, 1, 'the cleanup ran: refusing it would leave what it releases held')
  assert.equal(owners, ['job-1'])
  off()
  await container.dispose()
})

test("an aborted operation's disposers run their cleanup through its handle: a statement and a transaction, neither cancelled nor refused", async ({ pool }) => {
  const done: string[] = []
  const container = createServiceContainer().scoped('lock', (r) => ({ handle: createPostgresHandle(pool, r.resolve('operationContext')) }), {
    dispose: async ({ handle }) => {
      // Long enough for a cancel request to land: before the fix one was sent as it started.
      await handle.query('SELECT pg_sleep(0.2)')
      done.push('statement')
      await handle.transaction(async (tx) => {
        await tx.query('SELECT 1')
      })
      done.push('transaction')
      await handle.dispose()
    },
  })
  const controller = new AbortController()
  await runOperation('jobs', 'release-lock', (context) => {
    context.get('lock')
    controller.abort(new Error('deadline'))
  }, { container, signal: controller.signal })
  assert.equal(done, ['statement', 'transaction'])
  await container.dispose()
})

test("container.dispose() under a running operation: the operation's disposers still get connections", async ({ pool }) => {
  let cleanup: number | undefined
  // The cleanup goes through a handle of the operation, taken in the factory.
  const container = createServiceContainer().scoped('lock', (r) => ({ handle: createPostgresHandle(pool, r.resolve('operationContext')) }), {
    dispose: async ({ handle }) => {
      const { rows } = await handle.query<{ n: number }>('SELECT 1 AS n')
      cleanup = rows[0]?.n
      await handle.dispose()
    },
  })
  const context = OperationContext.create('jobs', 'hold-lock', { container })
  context.get('lock')
  // A shutdown while the job still runs: the container aborts the operation and disposes its scope.
  await container.dispose()
  // Before the fix the operation read as aborted and not disposed, so the cleanup's query was refused.
  assert.is(cleanup, 1, 'the cleanup ran')
  assert.ok(context.aborted)
  assert.ok(context.disposed, 'disposed with its scope')
  await context.dispose()
  assert.ok(context.ended)
})

test.run()
