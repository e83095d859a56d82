import { ConnectionLostError, DisposedError, OperationAbortedError, OperationContext, createServiceContainer, type ServiceContainer } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresRollbackError, registerPostgres, type PostgresPool } from '../src/index.js'
import { ManualClock, pgConfig, rejects, serverConnectionCount, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, outcomeNow, testPool, until } from './_helpers/pools.js'
import { untilRunning, untilStopped } from './_helpers/server-statements.js'
import { lateCancelProxy } from './_helpers/late-cancel-proxy.js'
import { silentProxy, type SilentProxy } from './_helpers/silent-proxy.js'

const table = `handle_cancel_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string; container: ServiceContainer; baseline: number }>('context.postgres cancels what its operation no longer wants')

test.before(async (context) => {
  const { pool, appName } = testPool('handle-cancel', { maxSize: 2 })
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, n int)`)
  await pool.query(`INSERT INTO ${table} (id, n) VALUES (1, 0) ON CONFLICT DO NOTHING`)
  Object.assign(context, { pool, appName, container: registerPostgres(createServiceContainer(), pool), baseline: await serverConnectionCount(appName) })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

// Updates the row from a session of its own, failing instead of waiting when the row is still locked.
async function updateFromElsewhere(): Promise<void> {
  const { host, port, user, database, password } = pgConfig()
  const other = new pg.Client({ host, port, user, database, ...(password === undefined ? {} : { password }) })
  await other.connect()
  try {
    await other.query(`SET lock_timeout = '2s'`)
    await other.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`)
  } finally {
    await other.end()
  }
}

// Every client is back, and the server holds no session beyond the pool's own (none cancelled but left running).
async function backToBaseline(pool: PostgresPool, appName: string, baseline: number): Promise<void> {
  await until('every client back in the pool', () => pool.activeCount === 0)
  await waitForConnectionCount(appName, pool.totalCount)
  assert.ok(pool.totalCount <= Math.max(baseline, 2))
}

test('disposing the operation cancels the statement its transaction runs, rolls back and gives the client back at once', async ({ pool, appName, container, baseline }) => {
  const context = OperationContext.create('api', 'tx-outlived', { container })
  const running = context.postgres
    .transaction(async (tx) => {
      await tx.query(`UPDATE ${table} SET n = n + 1 WHERE id = 1`)
      await tx.query('SELECT pg_sleep(30) /* tx-dispose */')
    })
    .then(() => undefined, (error: unknown) => error)
  await untilRunning(appName, 'tx-dispose')
  const startedAt = Date.now()
  await context.dispose()
  // Well under the statement's 30 s, however slow the machine: disposal no longer waits it out.
  assert.ok(Date.now() - startedAt < 10_000, `dispose took ${Date.now() - startedAt} ms`)
  const error = await running
  assert.instance(error, DisposedError)
  assert.is((error as DisposedError).code, 'ERR_DISPOSED')
  assert.match((error as Error).message, 'cancelled and the transaction rolled back')
  await untilStopped(appName, 'tx-dispose')
  // The row lock went with the transaction.
  await updateFromElsewhere()
  await backToBaseline(pool, appName, baseline)
})

test('an aborted operation cancels its running query on the server and rejects with its reason', async ({ pool, appName, container, baseline }) => {
  const context = OperationContext.create('api', 'query-aborted', { container })
  const reason = new Error('client gone')
  const running = context.postgres.query('SELECT pg_sleep(30) /* query-abort */')
  await untilRunning(appName, 'query-abort')
  context.abort(reason)
  const error = await rejects(running, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.cause, reason)
  assert.match(error.message, "run a query on pool 'handle-cancel'")
  await untilStopped(appName, 'query-abort')
  await context.dispose()
  await backToBaseline(pool, appName, baseline)
  // The connection it ran on is fine for the next caller: no late cancel request reaches its statement.
  for (let i = 0; i < 3; i++) assert.is((await pool.query<{ n: number }>('SELECT 1 AS n, pg_sleep(0.2)')).rows[0]?.n, 1)
})

test('a deadline that passes cancels the running query', async ({ pool, appName, container }) => {
  const context = OperationContext.create('api', 'query-deadline', { container, deadlineMillis: 200 })
  const error = await rejects(context.postgres.query('SELECT pg_sleep(30) /* query-deadline */'), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is((error.cause as DOMException).name, 'TimeoutError')
  await untilStopped(appName, 'query-deadline')
  await context.dispose()
  await until('every client back in the pool', () => pool.activeCount === 0)
})

test('an aborted operation cancels its transaction statement, releases its locks and rolls back', async ({ pool, appName, container, baseline }) => {
  const context = OperationContext.create('api', 'tx-aborted', { container })
  const reason = new Error('deadline')
  const running = context.postgres.transaction(async (tx) => {
    await tx.query(`UPDATE ${table} SET n = n + 100 WHERE id = 1`)
    await tx.query('SELECT pg_sleep(30) /* tx-abort */')
  })
  await untilRunning(appName, 'tx-abort')
  context.abort(reason)
  const error = await rejects(running, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.cause, reason)
  await untilStopped(appName, 'tx-abort')
  await updateFromElsewhere()
  const { rows } = await pool.query<{ n: number }>(`SELECT n FROM ${table} WHERE id = 1`)
  assert.ok((rows[0]?.n ?? 0) < 100, 'the update was rolled back')
  await context.dispose()
  await backToBaseline(pool, appName, baseline)
})

test('a transaction whose operation aborted is rolled back, never committed', async ({ pool, container }) => {
  const context = OperationContext.create('api', 'tx-late', { container })
  const reason = new Error('client gone')
  const running = context.postgres.transaction(async (tx) => {
    await tx.query(`INSERT INTO ${table} (id, n) VALUES (2, 0)`)
    context.abort(reason)
    return 'done'
  })
  const error = await rejects(running, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.cause, reason)
  assert.match(error.message, 'commit the transaction')
  const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = 2`)
  assert.is(rows.length, 0)
  await context.dispose()
})

test('a statement of an operation already aborted is refused in its transaction', async ({ container }) => {
  const context = OperationContext.create('api', 'tx-refused', { container })
  const running = context.postgres.transaction(async (tx) => {
    context.abort()
    await tx.query('SELECT 1')
  })
  await rejects(running, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  await context.dispose()
})

test('transactions of one operation run side by side, and one after another', async ({ container }) => {
  const context = OperationContext.create('api', 'siblings', { container })
  try {
    const results = await context.run(() =>
      Promise.all([
        context.postgres.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n, pg_sleep(0.05)')).rows[0]?.n),
        Promise.resolve().then(() => context.postgres.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 2 AS n')).rows[0]?.n)),
      ]),
    )
    assert.equal(results, [1, 2])
    assert.equal((await context.postgres.transaction((tx) => tx.query<{ n: number }>('SELECT 3 AS n'))).rows, [{ n: 3 }], 'and one after another')
  } finally {
    await context.dispose()
  }
})

test("a cancel request that lands late never stops the next caller's statement: the connection it targets is closed", async () => {
  const { host, port } = pgConfig()
  const proxy = await lateCancelProxy({ host, port }, 1_000)
  try {
    const reasons: string[] = []
    const { pool, appName } = testPool('handle-cancel-late', { host: proxy.host, port: proxy.port, maxSize: 1, acquireTimeoutMillis: 20_000, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
    const container = registerPostgres(createServiceContainer(), pool)
    const context = OperationContext.create('api', 'late-cancel', { container })
    // Ends by itself at 0.5 s: the cancel request sent at the abort reaches the server only after 1 s.
    const first = context.postgres.query('SELECT pg_backend_pid() AS pid, pg_sleep(0.5) /* late-a */').then((result) => result.rows[0]?.pid as number, () => undefined)
    await untilRunning(appName, 'late-a')
    context.abort(new Error('client gone'))
    // The next caller of the one connection, still running when the late request arrives.
    const { rows } = await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid, pg_sleep(2) /* late-b */')
    assert.ok(proxy.delivered() >= 1, 'the late request reached the server meanwhile')
    const firstPid = await first
    if (firstPid !== undefined) assert.is.not(rows[0]?.pid, firstPid, 'not the session the request was for')
    // The pool's own choice after an abort, not a broken connection: no error counted.
    assert.is(reasons[0], 'released')
    assert.is(pool.getPoolMetrics().errors, 0)
    await context.dispose()
    await pool.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test("a statement that statement_timeout cancelled tells nothing of a cancel request still on its way: the connection is closed", async () => {
  const { host, port } = pgConfig()
  const proxy = await lateCancelProxy({ host, port }, 1_000)
  try {
    // statement_timeout ends the first statement with 57014 too, before the request sent at the abort lands.
    const { pool, appName } = testPool('handle-cancel-late-57014', { host: proxy.host, port: proxy.port, maxSize: 1, acquireTimeoutMillis: 20_000, pg: { options: '-c statement_timeout=500' } })
    const container = registerPostgres(createServiceContainer(), pool)
    const context = OperationContext.create('api', 'late-cancel-57014', { container })
    const first = context.postgres.query('SELECT pg_sleep(5) /* late-st */').then(() => undefined, (error: unknown) => error)
    await untilRunning(appName, 'late-st')
    context.abort(new Error('client gone'))
    await first
    const results = (await pool.query('SET statement_timeout = 0; SELECT pg_sleep(1.5), 1 AS n /* late-st-b */')) as unknown as { rows: { n: number }[] }[]
    assert.is(results[1]?.rows[0]?.n, 1, 'the next caller ran to its end')
    assert.ok(proxy.delivered() >= 1, 'the late request reached the server meanwhile')
    await context.dispose()
    await pool.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

// What the server stops answering: a query, a transaction's statement, or its BEGIN.
const silenced = {
  query: (context: OperationContext, proxy: SilentProxy) => {
    proxy.silence()
    return context.postgres.query('SELECT 2')
  },
  statement: (context: OperationContext, proxy: SilentProxy) =>
    context.postgres.transaction((tx) => {
      proxy.silence()
      return tx.query('SELECT 2')
    }),
  begin: (context: OperationContext, proxy: SilentProxy) => {
    proxy.silence()
    return context.postgres.transaction((tx) => tx.query('SELECT 2'))
  },
}

/**
 * Runs `start` on a one-connection pool behind a silent proxy (it passes nothing once silenced and keeps every
 * connection open: a partition, or a middlebox that still acknowledges, which TCP keepalive does not notice; the
 * cancel requests go nowhere either). Aborts the operation once a statement went into the silence, checks the
 * outcome is still pending at 1,999 ms of the pool's clock, and returns it at 2,000 ms, with the cancel requests
 * sent. The connection closed, everything is given back and the server's count checked.
 */
async function abortIntoSilence(topic: string, start: (context: OperationContext, proxy: SilentProxy) => Promise<unknown>): Promise<{ outcome: unknown; cancelRequests: number }> {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  const clock = new ManualClock()
  try {
    const { pool, appName } = testPool(`handle-cancel-silent-${topic}`, { host: proxy.host, port: proxy.port, maxSize: 1, clock })
    const container = registerPostgres(createServiceContainer(), pool)
    const context = OperationContext.create('api', `silent-${topic}`, { container })
    await context.postgres.query('SELECT 1')
    const settled = start(context, proxy).then(() => 'resolved', (error: unknown) => error)
    await until('the statement sent', () => proxy.swallowed() > 0)
    context.abort(new Error('client gone'))
    await clock.advance(1_999)
    assert.is(await outcomeNow(settled), 'pending', 'a server that answers late is waited for')
    await clock.advance(1)
    // The clock has moved: what follows is I/O (the socket closed, the rollback skipped), bounded for a failure.
    const outcome = await Promise.race([settled, new Promise((resolve) => setTimeout(() => resolve('pending'), 5_000).unref())])
    const cancelRequests = proxy.cancelRequests()
    await context.dispose()
    await until('the connection closed', () => pool.totalCount === 0)
    await pool.close()
    // The server's session outlives the partition's far side until it notices; the proxy ending it ends it.
    await proxy.close()
    await waitForConnectionCount(appName, 0)
    return { outcome, cancelRequests }
  } finally {
    await proxy.close()
  }
}

for (const [kind, start] of Object.entries(silenced)) {
  test(`a ${kind} whose server stops answering is given up 2 s after its operation aborted: OperationAbortedError, the connection closed`, async () => {
    const { outcome } = await abortIntoSilence(kind, start)
    assert.instance(outcome, OperationAbortedError, String(outcome))
    assert.is(((outcome as Error).cause as Error).message, 'client gone')
  })
}

test('a COMMIT whose server stops answering is not cancelled but given up 2 s after its operation aborted: ConnectionLostError, it may have committed', async () => {
  const { outcome, cancelRequests } = await abortIntoSilence('commit', (context, proxy) =>
    context.postgres.transaction(async (tx) => {
      await tx.query('SELECT 2')
      // The COMMIT that follows goes into the silence.
      proxy.silence()
    }),
  )
  assert.instance(outcome, ConnectionLostError, String(outcome))
  assert.ok((outcome as ConnectionLostError).mayHaveCommitted, 'the COMMIT may have reached the server')
  assert.is(cancelRequests, 0, 'a COMMIT is never cancelled')
})

test("the callback's own COMMIT is treated as transaction()'s: not cancelled but given up 2 s after its operation aborted, it may have committed, whether the callback rethrows or not", async () => {
  for (const caught of [false, true]) {
    const { outcome, cancelRequests } = await abortIntoSilence(`own-commit-${caught}`, (context, proxy) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SELECT 2')
        proxy.silence()
        const commit = tx.query('COMMIT')
        return caught ? commit.catch(() => 'looks fine') : commit
      }),
    )
    // Before: cancelled, and OperationAbortedError (rethrown, or transaction()'s "Could not commit"), which says nothing of a commit.
    assert.instance(outcome, ConnectionLostError, String(outcome))
    assert.ok((outcome as ConnectionLostError).mayHaveCommitted, 'the COMMIT may have reached the server')
    assert.is(cancelRequests, 0, 'a COMMIT is never cancelled')
  }
})

test("transaction()'s ROLLBACK after the callback threw, its server gone silent, is given up 2 s after the operation aborted (not cancelled): the callback's error, the connection closed", async () => {
  for (const abortedFirst of [false, true]) {
    const { outcome, cancelRequests } = await abortIntoSilence(`rollback-${abortedFirst}`, (context, proxy) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SELECT 2')
        // The ROLLBACK that follows goes into the silence: sent before the operation aborts, or after.
        proxy.silence()
        if (abortedFirst) context.abort(new Error('deadline'))
        throw new Error('payment failed')
      }),
    )
    // Before: pending until TCP gave up (the ROLLBACK was neither watched nor bounded).
    assert.instance(outcome, Error, String(outcome))
    assert.is((outcome as Error).message, 'payment failed')
    assert.is(cancelRequests, 0, 'a ROLLBACK is not cancelled')
  }
})

test('disposing an operation whose transaction waits on something else, its server gone silent: the ROLLBACK is given up 2 s later, the connection closed', async () => {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  const clock = new ManualClock()
  try {
    const { pool, appName } = testPool('handle-cancel-silent-dispose', { host: proxy.host, port: proxy.port, maxSize: 1, clock })
    const container = registerPostgres(createServiceContainer(), pool)
    const context = OperationContext.create('api', 'silent-dispose', { container })
    let waiting = false
    let resume: () => void = () => undefined
    const running = context.postgres
      .transaction(async (tx) => {
        await tx.query('SELECT 2')
        proxy.silence()
        waiting = true
        await new Promise<void>((resolve) => (resume = resolve))
      })
      .then(() => 'committed', (error: unknown) => error)
    await until('the callback waits', () => waiting)
    const disposed = context.dispose().then(() => 'disposed')
    await until('the ROLLBACK sent', () => proxy.swallowed() > 0)
    await clock.advance(1_999)
    assert.is(await outcomeNow(disposed), 'pending', 'a server that answers late is waited for')
    await clock.advance(1)
    // Before: the disposal waited on the ROLLBACK until TCP gave up.
    const outcome = await Promise.race([disposed, new Promise((resolve) => setTimeout(() => resolve('pending'), 5_000).unref())])
    assert.is(outcome, 'disposed')
    assert.is(proxy.cancelRequests(), 0, 'a ROLLBACK is not cancelled')
    resume()
    assert.not.equal(await running, 'committed')
    await until('the connection closed', () => pool.totalCount === 0)
    await pool.close()
    await proxy.close()
    await waitForConnectionCount(appName, 0)
  } finally {
    await proxy.close()
  }
})

test("a callback that throws with a statement of its own still running: the statement is cancelled before the ROLLBACK, which does not wait it out", async ({ pool, appName, container, baseline }) => {
  const context = OperationContext.create('api', 'tx-throws-running', { container })
  let statement: Promise<unknown> | undefined
  const running = context.postgres.transaction(async (tx) => {
    statement = tx.query('SELECT pg_sleep(30) /* tx-throws-running */').then(() => 'ran to its end', (error: unknown) => error)
    await untilRunning(appName, 'tx-throws-running')
    throw new Error('validation failed')
  })
  const error = await running.then(() => undefined, (failure: unknown) => failure)
  assert.is((error as Error | undefined)?.message, 'validation failed')
  // Before: the ROLLBACK queued behind the 30 s statement, and the statement ran to its end.
  const ended = await statement
  assert.instance(ended, DisposedError, String(ended))
  assert.match((ended as Error).message, 'Its callback failed while the query ran, so the query was cancelled and the transaction rolled back.')
  await untilStopped(appName, 'tx-throws-running')
  await context.dispose()
  await backToBaseline(pool, appName, baseline)
})

test("a text of the callback whose COMMIT follows a slow statement is cancelled when its operation aborts during that statement: nothing commits", async ({ pool, appName, container, baseline }) => {
  const context = OperationContext.create('api', 'tx-abort-before-commit', { container })
  const reason = new Error('client gone')
  const running = context.postgres.transaction(async (tx) => {
    await tx.query(`INSERT INTO ${table} (id, n) SELECT 900, 0 FROM pg_sleep(30) /* tx-abort-before-commit */; COMMIT`)
  })
  await untilRunning(appName, 'tx-abort-before-commit')
  context.abort(reason)
  // Before: not cancelled (its text has a COMMIT), given up after 2 s with ConnectionLostError, mayHaveCommitted
  // true, while the server ran the INSERT to its end and then the COMMIT.
  const error = await rejects(running, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.cause, reason)
  await untilStopped(appName, 'tx-abort-before-commit')
  const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = 900`)
  assert.is(rows.length, 0, 'nothing committed')
  await context.dispose()
  await backToBaseline(pool, appName, baseline)
})

test("a statement pg gave up on by query_timeout is not given up a second time: a transaction that caught it rolls back, its connection no error", async () => {
  const clock = new ManualClock()
  const errors: string[] = []
  const { pool, appName } = testPool('handle-cancel-read-timeout', { maxSize: 1, clock, pg: { query_timeout: 200 }, events: { onError: (event) => void errors.push(event.error.message) } })
  const container = registerPostgres(createServiceContainer(), pool)
  const context = OperationContext.create('api', 'read-timeout', { container })
  const outcome = context.postgres
    .transaction(async (tx) => {
      await tx.query('SELECT pg_sleep(1)').catch(() => undefined)
      // Long past the 2 s an operation's cancelled statement gets: nothing of that applies here.
      await clock.advance(5_000)
    })
    .then(() => 'committed', (error: unknown) => error)
  const error = await outcome
  assert.instance(error, PostgresRollbackError, String(error))
  // Its connection is closed on release, as after any query_timeout; not given up under the transaction.
  assert.not.ok(errors.some((message) => message.includes('did not answer')), errors.join('; '))
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test('an operation that aborted while its checkout was granted begins no transaction: nothing is sent, the connection stays', async () => {
  const statements: string[] = []
  const { pool, appName } = testPool('handle-cancel-before-begin', { maxSize: 1, events: { onQuery: (event) => void statements.push(event.operation ?? '?') } })
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: 1 })
  const context = OperationContext.create('api', 'before-begin', { container })
  // The checkout is granted, and the operation aborts before `transaction()` hears of it.
  const off = pool.on('acquire', () => context.abort(new Error('client gone')))
  const error = await context.postgres.transaction(() => 'never').then(() => undefined, (failure: unknown) => failure)
  off()
  assert.instance(error, OperationAbortedError)
  assert.match((error as Error).message, 'start a transaction')
  assert.equal(statements, [], 'no BEGIN, no ROLLBACK')
  assert.equal([pool.totalCount, pool.idleCount], [1, 1], 'the connection went back as it was')
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test.run()
