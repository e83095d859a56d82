import { DisposedError, createServiceContainer, runOperation, type ServiceContainer } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresRollbackError, registerPostgres, type PostgresPool, type PostgresTransaction } from '../src/index.js'
import { pgConfig, rejects } from '@lifeguard/test-kit'
import { lateReadyProxy } from './_helpers/late-ready-proxy.js'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const table = `handle_tx_endings_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string; container: ServiceContainer }>('context.postgres transaction: how statements of the callback end it')

test.before(async (context) => {
  const { pool, appName } = testPool('handle-tx-endings')
  // `ref` is checked at COMMIT: a row pointing nowhere makes the COMMIT itself fail.
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY, ref int REFERENCES ${table} (id) DEFERRABLE INITIALLY DEFERRED)`)
  Object.assign(context, { pool, appName, container: registerPostgres(createServiceContainer(), pool) })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

test.before.each(async ({ pool }) => {
  await pool.query(`DELETE FROM ${table}`)
})

async function ids(pool: PostgresPool): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(`SELECT id FROM ${table} ORDER BY id`)
  return rows.map((row) => row.id)
}

const insert = (id: number): string => `INSERT INTO ${table} (id) VALUES (${id})`

// A transaction of one request whose outcome is a rollback: the error it rejects with.
function rolledBack(container: ServiceContainer, fn: (tx: PostgresTransaction) => Promise<unknown>): Promise<PostgresRollbackError> {
  return rejects(runOperation('api', 'POST /ids', (context) => context.postgres.transaction(fn), { container }), PostgresRollbackError)
}

test('a SQL PREPARE in a text that failed is no PREPARE TRANSACTION: undone by ROLLBACK TO SAVEPOINT, the transaction commits', async ({ pool, container }) => {
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(insert(1))
      await tx.query('SAVEPOINT s')
      await tx.query(`PREPARE lifeguard_endings_${process.pid} AS SELECT 1; SELECT 1/0`).catch(() => undefined)
      await tx.query('ROLLBACK TO SAVEPOINT s')
      return 'committed'
    }), { container })
  // Before: PostgresRollbackError 'failed-after-commit' (its PREPARE taken for PREPARE TRANSACTION), rolled back.
  assert.is(value, 'committed')
  assert.equal(await ids(pool), [1])
})

test('a COMMIT PREPARED refused inside the transaction ends nothing: undone by ROLLBACK TO SAVEPOINT, the transaction commits', async ({ pool, container }) => {
  let refused: unknown
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(insert(2))
      await tx.query('SAVEPOINT s')
      await tx.query("COMMIT PREPARED 'lifeguard-no-such-gid'").catch((error: unknown) => void (refused = error))
      await tx.query('ROLLBACK TO SAVEPOINT s')
      return 'committed'
    }), { container })
  assert.is((refused as { code?: string }).code, '25001', 'cannot run inside a transaction block')
  // Before: PostgresRollbackError 'statement-failed' (taken for the callback's own COMMIT, refused), rolled back.
  assert.is(value, 'committed')
  assert.equal(await ids(pool), [2])
})

test('a ROLLBACK after the statement that failed in the same text never ran: the transaction goes on, rolled back to its savepoint, and commits', async ({ pool, container }) => {
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(insert(3))
      await tx.query('SAVEPOINT s')
      // The ROLLBACK TO SAVEPOINT is tagged ROLLBACK; the duplicate INSERT fails, so the last ROLLBACK never runs.
      await tx.query(`ROLLBACK TO SAVEPOINT s; ${insert(3)}; ROLLBACK`).catch(() => undefined)
      await tx.query('ROLLBACK TO SAVEPOINT s')
      return 'committed'
    }), { container })
  // Before: taken for ended by that ROLLBACK: the next ROLLBACK TO SAVEPOINT refused, 'rolled-back-in-fn'.
  assert.is(value, 'committed')
  assert.equal(await ids(pool), [3])
})

test('a PREPARE TRANSACTION after the statement that failed in the same text never ran: the SQL PREPARE before it is no commit, the transaction commits', async ({ pool, container }) => {
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(insert(4))
      await tx.query('SAVEPOINT s')
      await tx.query(`PREPARE lifeguard_endings_b_${process.pid} AS SELECT 1; SELECT 1/0; PREPARE TRANSACTION 'lifeguard-never-ran'`).catch(() => undefined)
      await tx.query('ROLLBACK TO SAVEPOINT s')
      return 'committed'
    }), { container })
  // Before: PostgresRollbackError 'failed-after-commit' with mayHaveCommitted true, though nothing committed.
  assert.is(value, 'committed')
  assert.equal(await ids(pool), [4])
})

test('a PREPARE TRANSACTION the server refused after a SQL PREPARE in the same text prepared nothing: rolled back, nothing may have committed', async ({ pool, container }) => {
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(insert(5))
        // The shared server refuses every PREPARE TRANSACTION (max_prepared_transactions = 0), which rolls back.
        await tx.query(`PREPARE lifeguard_endings_c_${process.pid} AS SELECT 1; PREPARE TRANSACTION 'lifeguard-refused'`).catch(() => undefined)
        return 'looks fine'
      }), { container }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  // Before: 'failed-after-commit' with mayHaveCommitted true (the SQL PREPARE's tag read as the refused one's).
  assert.is(error.reason, 'statement-failed')
  assert.is(error.mayHaveCommitted, false)
  assert.is((error.cause as { code?: string } | undefined)?.code, '55000')
  assert.equal(await ids(pool), [])
})

test("the callback's ROLLBACK AND CHAIN (or ROLLBACK; BEGIN) rolls it back: what follows is refused, and the transaction it began is rolled back, not committed", async ({ pool, container }) => {
  for (const rollback of ['ROLLBACK AND CHAIN', 'ROLLBACK; BEGIN']) {
    let later: unknown
    const error = await rejects(
      runOperation('api', 'POST /ids', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(insert(3))
          await tx.query(rollback)
          later = await tx.query(insert(4)).catch((caught: unknown) => caught)
          return 'looks fine'
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    // Before: resolved, and committed 4 in the transaction the chain began.
    assert.is(error.reason, 'rolled-back-in-fn', rollback)
    assert.is(error.mayHaveCommitted, false)
    assert.instance(later, DisposedError)
    assert.match((later as Error).message, 'A statement of the callback ended it')
    assert.equal(await ids(pool), [], rollback)
  }
})

test("the callback's COMMIT AND CHAIN answered with ROLLBACK (a failure it caught) rolls back: the transaction it began is not committed", async ({ pool, container }) => {
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(insert(5))
        await tx.query('SELECT 1/0').catch(() => undefined)
        await tx.query('COMMIT AND CHAIN')
        return 'looks fine'
      }), { container }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  // Before: resolved (transaction() committed the empty transaction the chain began).
  assert.is(error.reason, 'statement-failed')
  assert.is(error.mayHaveCommitted, false)
  assert.is((error.cause as { code?: string }).code, '22012')
  assert.equal(await ids(pool), [])
})

test('after the callback\'s COMMIT AND CHAIN (or COMMIT; BEGIN) it goes on in the next transaction: committed with it, or a rollback that says the first part may have taken effect', async ({ pool, container }) => {
  for (const chain of ['COMMIT AND CHAIN', 'COMMIT; BEGIN']) {
    await pool.query(`DELETE FROM ${table}`)
    const value = await runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(insert(6))
        await tx.query(chain)
        await tx.query(insert(7))
        return 'both'
      }), { container })
    assert.is(value, 'both')
    assert.equal(await ids(pool), [6, 7], chain)
    const error = await rejects(
      runOperation('api', 'POST /ids', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(insert(8))
          await tx.query(chain)
          await tx.query(insert(9))
          await tx.query('SELECT 1/0').catch(() => undefined)
          return 'looks fine'
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    // Before: mayHaveCommitted false, "none of it took effect", with 8 committed.
    assert.is(error.reason, 'statement-failed', chain)
    assert.is(error.mayHaveCommitted, true, chain)
    assert.match(error.message, 'what came before an earlier `COMMIT` or `PREPARE TRANSACTION` of `fn`')
    assert.equal(await ids(pool), [6, 7, 8], chain)
  }
})

test("the cause of a rollback is the refusal that aborted the transaction, not one a ROLLBACK TO SAVEPOINT undid before", async ({ pool, container }) => {
  await pool.query(insert(30))
  // Also when the ROLLBACK TO SAVEPOINT shares its text with another statement.
  const inOneText = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SAVEPOINT s')
        await tx.query(insert(30)).catch(() => undefined)
        await tx.query(`ROLLBACK TO SAVEPOINT s; ${insert(33)}`)
        await tx.query('SELECT 1/0').catch(() => undefined)
      }), { container }),
    PostgresRollbackError,
  )
  assert.is((inOneText.cause as { code?: string }).code, '22012')
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        // Skip a duplicate, as a batch import does.
        await tx.query('SAVEPOINT s')
        await tx.query(insert(30)).catch(() => undefined)
        await tx.query('ROLLBACK TO SAVEPOINT s')
        await tx.query(insert(31))
        // Then a statement fails for good, and the callback only logs it; what follows is refused (25P02).
        await tx.query('SELECT 1/0').catch(() => undefined)
        await tx.query(insert(32)).catch(() => undefined)
      }), { container }),
    PostgresRollbackError,
  )
  assert.is(error.reason, 'statement-failed')
  // Before: 23505, the duplicate the savepoint had undone (a retry on 40001 read the wrong code).
  assert.is((error.cause as { code?: string }).code, '22012')
  assert.equal(await ids(pool), [30])
})

test("a ROLLBACK or a COMMIT the callback did not wait for ends the transaction as it answers: not reported committed when it rolled back", async ({ pool, container }) => {
  const plain = await rolledBack(container, async (tx) => {
    await tx.query(insert(20))
    void tx.query('ROLLBACK')
    return 'done'
  })
  // Before: resolved 'done' (the COMMIT queued behind the ROLLBACK was answered with a warning and the tag COMMIT).
  assert.is(plain.reason, 'rolled-back-in-fn')
  assert.equal(await ids(pool), [])
  // A COMMIT not waited for that the deferred check refuses: rolled back, its failure the cause.
  const refused = await rolledBack(container, async (tx) => {
    await tx.query(`INSERT INTO ${table} (id, ref) VALUES (21, 999)`)
    tx.query('COMMIT').catch(() => undefined)
    return 'done'
  })
  assert.is(refused.reason, 'statement-failed')
  assert.is((refused.cause as { code?: string }).code, '23503')
  assert.equal(await ids(pool), [])
  // ROLLBACK AND CHAIN not waited for: the COMMIT draws no warning (the chained transaction takes it), still
  // rolled back.
  const chained = await rolledBack(container, async (tx) => {
    await tx.query(insert(23))
    void tx.query('ROLLBACK AND CHAIN')
    return 'done'
  })
  assert.is(chained.reason, 'rolled-back-in-fn')
  assert.equal(await ids(pool), [])
  // A statement sent behind a ROLLBACK not waited for ran outside the transaction, committed on its own.
  const after = await rolledBack(container, async (tx) => {
    await tx.query(insert(24))
    void tx.query('ROLLBACK')
    void tx.query(insert(25))
    return 'done'
  })
  assert.is(after.reason, 'ran-after-rollback')
  assert.equal(await ids(pool), [25])
  await pool.query(`DELETE FROM ${table}`)
  // A ROLLBACK then a COMMIT, neither waited for: the first ending is what happened (nothing committed).
  const thenCommit = await rolledBack(container, async (tx) => {
    await tx.query(insert(26))
    void tx.query('ROLLBACK')
    void tx.query('COMMIT')
    return 'done'
  })
  assert.is(thenCommit.reason, 'rolled-back-in-fn')
  assert.equal(await ids(pool), [])
  // A COMMIT the deferred check refuses, then an INSERT, neither waited for: the INSERT ran on its own, committed.
  const afterRefused = await rolledBack(container, async (tx) => {
    await tx.query(`INSERT INTO ${table} (id, ref) VALUES (27, 999)`)
    tx.query('COMMIT').catch(() => undefined)
    void tx.query(insert(28))
    return 'done'
  })
  assert.is(afterRefused.reason, 'ran-after-rollback')
  assert.equal(await ids(pool), [28])
  await pool.query(`DELETE FROM ${table}`)
  // One it did not wait for that committed: the transaction took effect, and says so.
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(insert(22))
      void tx.query('COMMIT')
      return 'done'
    }), { container })
  assert.is(value, 'done')
  assert.equal(await ids(pool), [22])
})

test("a COMMIT before the ROLLBACK that ended it, in one text of the callback: rolled back in fn, but it may have taken effect", async ({ pool, container }) => {
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(insert(10))
        await tx.query('COMMIT; ROLLBACK')
      }), { container }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  // Before: mayHaveCommitted false, "none of it took effect", with 10 committed.
  assert.is(error.reason, 'rolled-back-in-fn')
  assert.is(error.mayHaveCommitted, true)
  assert.equal(await ids(pool), [10])
})

// The server's ReadyForQuery after an error comes late (see `lateReadyProxy`): pg hands the error over while the
// session's status still says the transaction is open.
test('a statement of the callback that ended the transaction as it failed is told by the server, also when its ReadyForQuery comes late: nothing after it runs, nothing is committed', async () => {
  const proxy = await lateReadyProxy(pgConfig())
  const { pool, appName } = testPool('handle-tx-late-ready', { host: proxy.host, port: proxy.port, maxSize: 1 })
  try {
    const container = registerPostgres(createServiceContainer(), pool)
    const endings = [
      // A PREPARE TRANSACTION behind a comment (the shared server refuses them all: max_prepared_transactions = 0).
      ["/* checkout */ PREPARE TRANSACTION 'lifeguard-late-ready'", 'statement-failed', '55000'],
      // A text whose COMMIT fails (the deferred reference is checked then).
      [`INSERT INTO ${table} (id, ref) VALUES (12, 99); COMMIT`, 'statement-failed', '23503'],
      // A ROLLBACK, then a failure outside the transaction.
      ['ROLLBACK; SELECT 1/0', 'rolled-back-in-fn', undefined],
    ] as const
    for (const [text, reason, code] of endings) {
      const delayed = proxy.delayed()
      let later: unknown
      const error = await rejects(
        runOperation('api', 'POST /ids', (context) =>
          context.postgres.transaction(async (tx) => {
            await tx.query(insert(11))
            await tx.query(text).catch(() => undefined)
            // Before: run at once, outside the transaction, and committed on its own.
            later = await tx.query(insert(13)).catch((caught: unknown) => caught)
            return 'looks fine'
          }), { container }),
        PostgresRollbackError,
        'ERR_POSTGRES_ROLLED_BACK',
      )
      assert.ok(proxy.delayed() > delayed, 'the ReadyForQuery after the error came late')
      // Before: resolved (its COMMIT sent after all, answered with a warning that no transaction was in progress).
      assert.is(error.reason, reason, text)
      assert.is(error.mayHaveCommitted, false, text)
      assert.is((error.cause as { code?: string } | undefined)?.code, code, text)
      assert.instance(later, DisposedError, text)
      assert.equal(await ids(pool), [], text)
    }
  } finally {
    await closeAndCheck(pool, appName)
    await proxy.close()
  }
})

test('an operation that runs many transactions that fail keeps a bounded number of abort watchers', async ({ pool, container }) => {
  const watchKey = Symbol.for('lifeguard.operation-context.watch')
  const watchers = new Set<unknown>()
  const failures = await runOperation('worker', 'retry-loop', async (context) => {
    // Every watcher the operation is given, counted by identity (an operation keeps each for good).
    const own = context as unknown as Record<symbol, (watcher: unknown) => void>
    const watch = own[watchKey]!
    own[watchKey] = function (this: unknown, watcher: unknown) {
      watchers.add(watcher)
      return watch.call(this, watcher)
    }
    let failed = 0
    for (let i = 0; i < 20; i++) {
      await context.postgres
        .transaction(async (tx) => {
          await tx.query('SELECT 1')
          throw new Error('retry me')
        })
        .catch(() => void failed++)
    }
    return failed
  }, { container })
  assert.is(failures, 20)
  // Before, each ROLLBACK added a watcher of its own: 20 here, one more for every failed transaction.
  assert.ok(watchers.size <= 3, `${watchers.size} watchers for 20 rolled-back transactions`)
  assert.equal(await ids(pool), [])
})

test.run()
