import { ConnectionLostError, DisposedError, InvalidOptionError, createServiceContainer, runOperation, type ServiceContainer } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresRollbackError, createPostgresPool, registerPostgres, type PostgresPool, type PostgresTransaction } from '../src/index.js'
import { pgConfig, rejects, startPrivateCluster } from '@lifeguard/test-kit'
import { lateCancelProxy } from './_helpers/late-cancel-proxy.js'
import { eventually } from './_helpers/failover-load.js'
import { closeAndCheck, settlesWithin, sleep, testPool, until } from './_helpers/pools.js'

const table = `handle_tx_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string; container: ServiceContainer }>('context.postgres transaction')

test.before(async (context) => {
  const { pool, appName } = testPool('handle-tx')
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

test('commits when the callback resolves and returns its value', async ({ pool, container }) => {
  const result = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES ($1), ($2)`, [1, 2])
      assert.is(context.postgres.heldCount, 1)
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      return rows[0]?.pid
    }), { container })
  assert.type(result, 'number')
  assert.equal(await ids(pool), [1, 2])
  assert.is(pool.activeCount, 0)
})

test('rolls back when the callback throws, and rethrows its error', async ({ pool, container }) => {
  const error = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (3)`)
      throw new Error('business rule failed')
    }), { container }).catch((caught: unknown) => caught)
  assert.instance(error, Error)
  assert.is((error as Error).message, 'business rule failed')
  assert.equal(await ids(pool), [1, 2])
  assert.is(pool.activeCount, 0)
  assert.is(pool.idleCount, pool.totalCount, 'the connection went back to the pool after ROLLBACK')
})

test('rolls back on a failing statement, keeping the connection', async ({ pool, container }) => {
  const before = pool.totalCount
  const error = await runOperation('api', 'dup', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (4)`)
      await tx.query(`INSERT INTO ${table} (id) VALUES (1)`)
    }), { container }).catch((caught: unknown) => caught)
  assert.is((error as { code?: string }).code, '23505')
  assert.equal(await ids(pool), [1, 2])
  assert.is(pool.totalCount, before)
})

test('a failed statement that the callback caught makes the transaction fail: the server answered COMMIT with ROLLBACK', async ({ pool, container }) => {
  const before = pool.totalCount
  const error = await rejects(
    runOperation('api', 'caught', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (5)`)
        // A duplicate key, caught: the server has aborted the transaction all the same.
        await tx.query(`INSERT INTO ${table} (id) VALUES (1)`).catch(() => undefined)
        return 'looks fine'
      }), { container }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  assert.is(error.mayHaveCommitted, false)
  assert.is(error.pool, pool.name)
  // What failed, for a retry loop (`40001`, `40P01`): the caught statement's own error.
  assert.is(error.reason, 'statement-failed')
  assert.is((error.cause as { code?: string }).code, '23505')
  assert.equal(await ids(pool), [1, 2], 'nothing of it took effect')
  assert.is(pool.totalCount, before, 'the connection was fine and went back')
  assert.is(pool.activeCount, 0)
})

test('a ROLLBACK the callback sends itself ends the transaction for good: what follows is refused, not committed on its own', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (41)`)
        await tx.query('ROLLBACK')
        await tx.query(`INSERT INTO ${table} (id) VALUES (42)`)
      }), { container }),
    DisposedError,
    'ERR_DISPOSED',
  )
  assert.match(error.message, 'A statement of the callback ended it (ROLLBACK, COMMIT or PREPARE TRANSACTION)')
  assert.equal(await ids(pool), [], 'neither row: the second used to be committed on its own')
  // Ended by the callback's ROLLBACK and nothing after: rolled back, as transaction() says, and says why.
  const ownRollback = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (44)`)
        await tx.query('ROLLBACK')
      }), { container }),
    PostgresRollbackError,
  )
  assert.match(ownRollback.message, 'It was rolled back by a statement of its own (a `ROLLBACK` in `fn`')
  assert.is(ownRollback.reason, 'rolled-back-in-fn')
  assert.is(ownRollback.cause, undefined)
  // The callback's own COMMIT (or END) after a failed statement it caught: the server answered ROLLBACK, for that failure.
  for (const commit of ['COMMIT', 'END']) {
    const refusedCommit = await rejects(
      runOperation('api', 'POST /ids', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (45)`)
          await tx.query('SELECT 1/0').catch(() => undefined)
          await tx.query(commit)
        }), { container }),
      PostgresRollbackError,
    )
    assert.match(refusedCommit.message, 'The server rolled it back: a statement in it had failed', commit)
  }
  // Ended by its COMMIT: that commit stands, and transaction() resolves with the callback's value.
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (43)`)
      await tx.query('COMMIT')
      return 'kept'
    }), { container })
  assert.is(value, 'kept')
  assert.equal(await ids(pool), [43])
  // A text of several statements ending in COMMIT commits too (pg answers it with one result each).
  const several = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (46); COMMIT`)
      return 'kept too'
    }), { container })
  assert.is(several, 'kept too', 'it was reported rolled back, mayHaveCommitted false, with the row committed')
  assert.equal(await ids(pool), [43, 46])
  await pool.query(`DELETE FROM ${table}`)
  assert.is(pool.activeCount, 0)
})

test('statements after the callback\'s ROLLBACK in the same text ran outside the transaction: transaction() does not say none of it took effect', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (51)`)
        await tx.query(`ROLLBACK; INSERT INTO ${table} (id) VALUES (52)`)
      }), { container }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  // Before: 'rolled-back-in-fn', mayHaveCommitted false, while 52 was committed on its own.
  assert.is(error.reason, 'ran-after-rollback')
  assert.is(error.mayHaveCommitted, true)
  assert.match(error.message, 'ran outside it, each committed on its own, and may have taken effect')
  assert.equal(await ids(pool), [52])
  await pool.query(`DELETE FROM ${table}`)
  assert.is(pool.activeCount, 0)
})

test("a text of the callback that fails after its own COMMIT: transaction() says the transaction may have taken effect, with the failure as cause", async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  for (const [id, ending] of [[53, 'COMMIT'], [54, 'COMMIT AND CHAIN']] as const) {
    const error = await rejects(
      runOperation('api', 'POST /ids', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (${id})`)
          // The COMMIT commits; the division fails after it, outside the transaction (or in the chained one).
          await tx.query(`${ending}; SELECT 1/0`).catch(() => undefined)
          return 'looks fine'
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    // Before: 'statement-failed' (or the server's ROLLBACK of the chained one), mayHaveCommitted false.
    assert.is(error.reason, 'failed-after-commit', ending)
    assert.is(error.mayHaveCommitted, true)
    assert.is((error.cause as { code?: string }).code, '22012')
    assert.match(error.message, 'the transaction may have taken effect: committed by that `COMMIT`')
  }
  assert.equal(await ids(pool), [53, 54])
  await pool.query(`DELETE FROM ${table}`)
  assert.is(pool.activeCount, 0)
})

test('a SQL PREPARE (of a statement) that failed and was undone by ROLLBACK TO SAVEPOINT leaves the transaction to commit', async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (57)`)
      await tx.query('SAVEPOINT s')
      // Not PREPARE TRANSACTION: its failure ends nothing the savepoint cannot undo.
      await tx.query('PREPARE lifeguard_missing AS SELECT * FROM lifeguard_no_such_table').catch(() => undefined)
      await tx.query('ROLLBACK TO SAVEPOINT s')
      return 'committed'
    }), { container })
  assert.is(value, 'committed')
  assert.equal(await ids(pool), [57])
  await pool.query(`DELETE FROM ${table}`)
  assert.is(pool.activeCount, 0)
})

test("what the callback's own statements committed is said first, also when the operation aborted before transaction() could commit", async ({ pool, container }) => {
  await pool.query(`DELETE FROM ${table}`)
  const controller = new AbortController()
  const error = await rejects(
    runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (55)`)
        await tx.query('COMMIT; SELECT 1/0').catch(() => undefined)
        // A deadline that passes, a client that leaves: after the COMMIT took effect.
        controller.abort(new Error('client gone'))
        return 'looks fine'
      }), { container, signal: controller.signal }),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  // Before: OperationAbortedError ("Could not commit the transaction"), though the COMMIT had taken effect.
  assert.is(error.reason, 'failed-after-commit')
  assert.is(error.mayHaveCommitted, true)
  const again = new AbortController()
  const value = await runOperation('api', 'POST /ids', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query(`INSERT INTO ${table} (id) VALUES (56)`)
      await tx.query('COMMIT')
      again.abort(new Error('client gone'))
      return 'committed by the callback'
    }), { container, signal: again.signal })
  assert.is(value, 'committed by the callback')
  assert.equal(await ids(pool), [55, 56])
  await pool.query(`DELETE FROM ${table}`)
  assert.is(pool.activeCount, 0)
})

test('statements run at once in the callback, one refused: rolled back on the same connection, with no cancel request and no new connection', async () => {
  const disconnects: string[] = []
  const proxy = await lateCancelProxy(pgConfig(), 0)
  const { pool, appName } = testPool('handle-tx-concurrent', { maxSize: 1, host: proxy.host, port: proxy.port, events: { onDisconnect: (event) => void disconnects.push(event.reason) } })
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.query(`INSERT INTO ${table} (id) VALUES (700)`)
  try {
    await pool.warmup({ connections: 1 })
    const connectsBefore = pool.getPoolMetrics().createTime.count
    const error = await rejects(
      runOperation('api', 'POST /batch', (context) =>
        context.postgres.transaction((tx) => Promise.all([701, 700, 702, 703].map((id) => tx.query(`INSERT INTO ${table} (id) VALUES ($1)`, [id])))), { container }),
      pg.DatabaseError,
    )
    assert.is((error as pg.DatabaseError).code, '23505')
    await until('the connection back', () => pool.getPoolMetrics().activeConnections === 0)
    // Before: a cancel request went out for the statements still queued (which failed at once anyway), and the
    // connection was closed after the ROLLBACK rather than kept.
    assert.is(proxy.requested(), 0, 'no cancel request')
    assert.equal(disconnects, [])
    assert.is(pool.getPoolMetrics().createTime.count, connectsBefore)
    assert.equal((await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE id > 700 AND id < 800`)).rows, [{ n: 0 }])
  } finally {
    await pool.query(`DELETE FROM ${table} WHERE id >= 700 AND id < 800`)
    await closeAndCheck(pool, appName)
    await proxy.close()
  }
})

test('a failed statement with a row limit ends the transaction at once: the caller gets its error, and the connection is closed rather than rolled back', async () => {
  // pg sends no Sync after such an error, so the server never says it is ready again: the ROLLBACK (or the COMMIT,
  // when fn caught the error) waited for that for good, and held the pool's one connection. No timer of the pool's
  // takes part in either path (the ROLLBACK is not watched): only the bound ends a hang.
  const closedFor: string[] = []
  const { pool: own, appName } = testPool('handle-tx-rows', { maxSize: 1, events: { onError: (event) => void closedFor.push(event.error.message) } })
  const container = registerPostgres(createServiceContainer(), own)
  const thrown = await rejects(
    settlesWithin(
      'transaction()',
      runOperation('api', 'rows thrown', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (61)`)
          await tx.query({ text: 'SELECT 1/0', rows: 10 } as pg.QueryConfig)
        }), { container }),
    ),
    pg.DatabaseError,
  )
  assert.is(thrown.code, '22012', "the statement's own error")
  assert.is(own.activeCount, 0)
  assert.match(closedFor.join('\n'), 'A query with a row limit (`rows`) failed')
  // Caught in fn: what fn sends next is refused at once, and transaction() says the server rolled it back, why.
  const later: unknown[] = []
  const caught = await rejects(
    settlesWithin(
      'transaction()',
      runOperation('api', 'rows caught', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query(`INSERT INTO ${table} (id) VALUES (62)`)
          await tx.query({ text: 'SELECT 1/0', rows: 10 } as pg.QueryConfig).catch(() => undefined)
          await tx.query('SELECT 1').catch((error: unknown) => void later.push(error))
          return 'looks fine'
        }), { container }),
    ),
    PostgresRollbackError,
    'ERR_POSTGRES_ROLLED_BACK',
  )
  assert.is(caught.reason, 'statement-failed')
  assert.is(caught.mayHaveCommitted, false)
  assert.is((caught.cause as { code?: string }).code, '22012')
  assert.instance(later[0], DisposedError)
  assert.match((later[0] as Error).message, 'A statement in it with a row limit (`rows`) failed')
  assert.is(own.activeCount, 0)
  // The one slot serves the next caller; nothing of either transaction took effect.
  const { rows } = await own.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE id IN (61, 62)`)
  assert.equal(rows, [{ n: 0 }])
  await closeAndCheck(own, appName)
})

test('a PREPARE TRANSACTION in the callback is its own end of the transaction, as its COMMIT is: transaction() resolves, and the transaction stays prepared; after ROLLBACK TO SAVEPOINT in the same text, it is not called a rollback (private cluster)', async () => {
  // The shared server keeps max_prepared_transactions at 0 (PREPARE TRANSACTION refused): a cluster of its own.
  const cluster = await startPrivateCluster({ maxConnections: 10, settings: { max_prepared_transactions: 2 } })
  const appName = 'handle-tx-prepare'
  const own = createPostgresPool({ name: appName, ...cluster.connection, applicationName: appName, maxSize: 1 })
  try {
    const container = registerPostgres(createServiceContainer(), own)
    const count = async (): Promise<number> => (await own.query<{ n: number }>('SELECT count(*)::int AS n FROM prepared_rows')).rows[0]?.n ?? -1
    const prepared = async (): Promise<string> => (await cluster.sql('SELECT string_agg(gid, \',\' ORDER BY gid) FROM pg_prepared_xacts')).trim()
    await own.query('CREATE TABLE prepared_rows (id int PRIMARY KEY)')
    const refused: unknown[] = []
    const value = await runOperation('api', 'prepare', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('INSERT INTO prepared_rows (id) VALUES (1)')
        await tx.query("PREPARE TRANSACTION 'lifeguard-gid-1'")
        await tx.query('SELECT 1').catch((error: unknown) => void refused.push(error))
        return 'prepared'
      }), { container })
    // Before: PostgresRollbackError ('rolled-back-in-fn', mayHaveCommitted false) while it held its row and locks.
    assert.is(value, 'prepared')
    assert.instance(refused[0], DisposedError)
    assert.match((refused[0] as Error).message, 'ended it (ROLLBACK, COMMIT or PREPARE TRANSACTION)')
    assert.is(await prepared(), 'lifeguard-gid-1')
    assert.is(own.activeCount, 0)
    // The caller's to finish, on any session.
    assert.is(await count(), 0)
    await own.query("COMMIT PREPARED 'lifeguard-gid-1'")
    assert.is(await count(), 1)
    // After a statement that failed and was caught, the server answers PREPARE TRANSACTION with ROLLBACK.
    const aborted = await rejects(
      runOperation('api', 'prepare aborted', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query('INSERT INTO prepared_rows (id) VALUES (2)')
          await tx.query('SELECT 1/0').catch(() => undefined)
          await tx.query("PREPARE TRANSACTION 'lifeguard-gid-2'")
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    assert.is(aborted.reason, 'statement-failed')
    assert.is((aborted.cause as { code?: string }).code, '22012')
    // A PREPARE TRANSACTION that fails (its identifier in use) ends the transaction too, rolled back: so reported.
    await own.query('BEGIN; INSERT INTO prepared_rows (id) VALUES (3); PREPARE TRANSACTION \'lifeguard-gid-3\'').catch(() => undefined)
    const duplicate = await rejects(
      runOperation('api', 'prepare refused', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query('INSERT INTO prepared_rows (id) VALUES (4)')
          await tx.query("PREPARE TRANSACTION 'lifeguard-gid-3'").catch(() => undefined)
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    assert.is(duplicate.reason, 'statement-failed')
    assert.is((duplicate.cause as { code?: string }).code, '42710')
    await own.query("ROLLBACK PREPARED 'lifeguard-gid-3'")
    assert.is(await prepared(), '')
    assert.is(await count(), 1)
    // The server tags ROLLBACK TO SAVEPOINT as it tags ROLLBACK: a PREPARE after it may have prepared the transaction.
    const maybe = await rejects(
      runOperation('api', 'prepare after savepoint', (context) =>
        context.postgres.transaction(async (tx) => {
          await tx.query('INSERT INTO prepared_rows (id) VALUES (5)')
          await tx.query('SAVEPOINT sp')
          await tx.query("ROLLBACK TO SAVEPOINT sp; PREPARE TRANSACTION 'lifeguard-gid-5'")
        }), { container }),
      PostgresRollbackError,
      'ERR_POSTGRES_ROLLED_BACK',
    )
    // Before: 'ran-after-rollback', saying the transaction was rolled back while it was prepared, holding its row.
    assert.is(maybe.reason, 'maybe-prepared')
    assert.is(maybe.mayHaveCommitted, true)
    assert.match(maybe.message, 'it may have been prepared by a `PREPARE TRANSACTION` rather than rolled back')
    assert.is(await prepared(), 'lifeguard-gid-5')
    await own.query("COMMIT PREPARED 'lifeguard-gid-5'")
    assert.is(await prepared(), '')
    assert.is(await count(), 2)
    assert.is(own.activeCount, 0)
  } finally {
    await own.close({ timeoutMillis: 1000 })
    await eventually(`${appName} to leave the server`, async () => Number(await cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`)) === 0, 5000)
    await cluster.destroy()
  }
})

test("a transaction whose operation aborted under it closes its connection: the callback's cleanup was refused, and a session advisory lock would outlive it", async ({ pool, container }) => {
  const abort = new AbortController()
  const error = await runOperation('api', 'POST /locked', (context) =>
    context.postgres.transaction(async (tx) => {
      await tx.query('SELECT pg_advisory_lock(4243)')
      try {
        abort.abort(new Error('client gone'))
        await tx.query('SELECT 1')
      } finally {
        // What the user writes, and what an aborted operation refuses.
        await tx.query('SELECT pg_advisory_unlock(4243)').catch(() => undefined)
      }
    }), { container, signal: abort.signal }).catch((caught: unknown) => caught)
  assert.is((error as { code?: string }).code, 'ERR_OPERATION_ABORTED')
  assert.is(pool.activeCount, 0)
  // Not back in the pool holding the lock: its session ends (the server lets go as its backend exits).
  const held = async (): Promise<number> => {
    const { rows } = await pool.query<{ held: number }>("SELECT count(*)::int AS held FROM pg_locks WHERE locktype = 'advisory' AND objid = 4243")
    return rows[0]?.held ?? 0
  }
  let count = await held()
  for (let i = 0; i < 200 && count > 0; i++) {
    await sleep(10) // a hang guard: the backend exits a moment after the pool closed its connection
    count = await held()
  }
  assert.is(count, 0, 'the lock stayed with a pooled session: the next holder had it, and no other session could take it')
})

test('a connection lost before COMMIT: the COMMIT was never sent, so mayHaveCommitted is false (a retry is safe)', async ({ pool }) => {
  const { pool: own, appName } = testPool('handle-tx-lost-commit', { maxSize: 2 })
  const container = registerPostgres(createServiceContainer(), own)
  const error = await rejects(
    runOperation('api', 'lost before commit', (context) =>
      context.postgres.transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>(`INSERT INTO ${table} (id) VALUES (41) RETURNING pg_backend_pid() AS pid`)
        await own.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
        // Until pg has read the server's goodbye: then it refuses to send the COMMIT at all.
        await tx.query('SELECT 1').catch(() => undefined)
      }), { container }),
    ConnectionLostError,
    'ERR_CONNECTION_LOST',
  )
  assert.is(error.mayHaveCommitted, false)
  assert.match(error.message, 'commit the transaction')
  assert.not.ok((await ids(pool)).includes(41), 'nothing of it took effect')
  await closeAndCheck(own, appName)
})

test('a transaction whose connection was lost sends no ROLLBACK, reports no failed one, and reports the loss as a query does', async () => {
  const statements: string[] = []
  const losses: string[] = []
  const { pool: own, appName } = testPool('handle-tx-lost', {
    maxSize: 2,
    events: {
      onQuery: (event) => void statements.push(`${event.operation ?? '?'}${event.error === undefined ? '' : ' failed'}`),
      onError: (event) => void losses.push(`error ${event.source}: ${(event.error as { code?: string }).code ?? event.error.message}`),
      onDisconnect: (event) => void losses.push(`disconnect ${event.reason}`),
    },
  })
  const container = registerPostgres(createServiceContainer(), own)
  const error = await rejects(
    runOperation('api', 'lost', (context) =>
      context.postgres.transaction(async (tx) => {
        const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
        await own.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid])
        await tx.query('SELECT 1')
      }), { container }),
    ConnectionLostError,
    'ERR_CONNECTION_LOST',
  )
  assert.is(error.mayHaveCommitted, false)
  assert.not.ok(statements.some((statement) => statement.startsWith('ROLLBACK')), statements.join(', '))
  // One error, the server's own, and a disconnect for it: the loss shows in events, metrics and their exports.
  await until('the connection closed', () => losses.some((loss) => loss.startsWith('disconnect')))
  assert.equal(losses, ['error connection: 57P01', 'disconnect error'])
  assert.is(own.getPoolMetrics().errors, 1)
  await closeAndCheck(own, appName)
})

test('a ConnectionLostError that fn throws from elsewhere (another pool) rolls back and keeps this healthy connection', async ({ pool, container }) => {
  const before = pool.totalCount
  const statements: string[] = []
  const off = pool.on('query', (event) => void statements.push(event.operation ?? '?'))
  const error = await rejects(
    runOperation('api', 'other-pool-lost', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query('SELECT 1')
        throw new ConnectionLostError('another-pool', 'run a query', false, { cause: new Error('socket closed') })
      }), { container }),
    ConnectionLostError,
  )
  off()
  assert.is(error.pool, 'another-pool')
  assert.ok(statements.includes('ROLLBACK'), statements.join(', '))
  assert.is(pool.totalCount, before, 'the connection was kept')
})

test('begins with the isolation level and access mode asked for', async ({ container }) => {
  await runOperation('api', 'report', async (context) => {
    const level = await context.postgres.transaction((tx) => tx.query<{ transaction_isolation: string }>('SHOW transaction_isolation'), { isolationLevel: 'serializable', readOnly: true })
    assert.is(level.rows[0]?.transaction_isolation, 'serializable')
    const deferrable = await context.postgres.transaction((tx) => tx.query<{ transaction_deferrable: string }>('SHOW transaction_deferrable'), { isolationLevel: 'serializable', readOnly: true, deferrable: true })
    assert.is(deferrable.rows[0]?.transaction_deferrable, 'on')
    const error = await context.postgres.transaction((tx) => tx.query(`INSERT INTO ${table} (id) VALUES (9)`), { readOnly: true }).catch((caught: unknown) => caught)
    assert.is((error as { code?: string }).code, '25006')
  }, { container })
})

test('rejects bad options before taking a client', async ({ pool, container }) => {
  await runOperation('api', 'bad', async (context) => {
    const error = await rejects(context.postgres.transaction(() => 1, { isolationLevel: 'snapshot' as never }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.match(error.message, "`isolationLevel` to be one of `read committed`, `repeatable read`, `serializable`")
  }, { container })
  assert.is(pool.activeCount, 0)
})

test('rejects a callback that is not a function before taking a client', async ({ pool, container }) => {
  const connections = pool.getPoolCounters().totalConnections
  await runOperation('api', 'bad', async (context) => {
    const error = await rejects(context.postgres.transaction(5 as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.match(error.message, 'Invalid options for transaction: expected `fn` to be a function, got `5` (number).')
  }, { container })
  assert.is(pool.activeCount, 0)
  assert.is(pool.getPoolCounters().totalConnections, connections, 'no connection opened for it')
})

test('a transaction object stops working once the transaction is over', async ({ container }) => {
  let kept: PostgresTransaction | undefined
  await runOperation('api', 'keep', (context) => context.postgres.transaction((tx) => void (kept = tx)), { container })
  assert.ok(kept?.finished)
  const error = await rejects((kept as PostgresTransaction).query('SELECT 1'), DisposedError, 'ERR_DISPOSED')
  assert.match(error.message, 'The transaction has already finished')
})

test.run()
