import { ConnectionLostError, createServiceContainer, runOperation } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresQueryTimeoutError, registerPostgres, type PostgresPool, type PostgresPoolOptions, type PostgresTransaction } from '../src/index.js'
import { pgConfig } from '@lifeguard/test-kit'
import { eventually } from './_helpers/failover-load.js'
import { closeAndCheck, testPool } from './_helpers/pools.js'
import { silentProxy, type SilentProxy } from './_helpers/silent-proxy.js'

const table = `handle_tx_own_commit_${process.pid}`
const test = suite<{ pool: PostgresPool; appName: string }>("context.postgres transaction: the callback's own COMMIT that gets no answer")

test.before(async (context) => {
  const { pool, appName } = testPool('handle-tx-own-commit')
  await pool.query(`CREATE TABLE IF NOT EXISTS ${table} (id int PRIMARY KEY)`)
  Object.assign(context, { pool, appName })
})

test.after(async ({ pool, appName }) => {
  await pool.query(`DROP TABLE IF EXISTS ${table}`)
  await closeAndCheck(pool, appName)
})

async function committed(pool: PostgresPool, id: number): Promise<boolean> {
  const { rows } = await pool.query(`SELECT 1 FROM ${table} WHERE id = $1`, [id])
  return rows.length === 1
}

/**
 * Runs `fn` in a transaction on a one-connection pool behind a proxy whose replies are dropped (`dropReplies`)
 * once `fn` has inserted `id`: what `fn` sends next reaches the server, and its answer never comes back. Returns
 * how the transaction settled; the proxy and the pool are closed, the server's count checked.
 */
async function answerLost(topic: string, id: number, options: Partial<PostgresPoolOptions>, fn: (tx: PostgresTransaction, proxy: SilentProxy) => Promise<unknown>): Promise<unknown> {
  const proxy = await silentProxy(pgConfig())
  const { pool, appName } = testPool(`handle-tx-own-commit-${topic}`, { host: proxy.host, port: proxy.port, maxSize: 1, ...options })
  try {
    const container = registerPostgres(createServiceContainer(), pool)
    return await runOperation('api', 'POST /ids', (context) =>
      context.postgres.transaction(async (tx) => {
        await tx.query(`INSERT INTO ${table} (id) VALUES (${id})`)
        proxy.dropReplies()
        return fn(tx, proxy)
      }), { container }).then(() => 'resolved', (error: unknown) => error)
  } finally {
    await proxy.close()
    await closeAndCheck(pool, appName)
  }
}

test("its COMMIT past query_timeout may have committed: the error says so, whether the callback rethrows it or not", async ({ pool }) => {
  for (const [id, caught] of [[1, false], [2, true]] as const) {
    const outcome = await answerLost(`timeout-${id}`, id, { pg: { query_timeout: 200 } }, (tx) => {
      const commit = tx.query('COMMIT')
      return caught ? commit.catch(() => 'looks fine') : commit
    })
    // Before: mayHaveCommitted false (rethrown); PostgresRollbackError 'query-timeout', "none of it took effect" (caught).
    assert.instance(outcome, PostgresQueryTimeoutError, String(outcome))
    assert.is((outcome as PostgresQueryTimeoutError).mayHaveCommitted, true, caught ? 'caught' : 'rethrown')
    await eventually('the row committed', () => committed(pool, id), 5_000)
  }
})

test('its COMMIT whose connection is lost before the answer may have committed: ConnectionLostError says so, whether the callback rethrows it or not', async ({ pool }) => {
  for (const [id, caught] of [[3, false], [4, true]] as const) {
    const outcome = await answerLost(`lost-${id}`, id, {}, async (tx, proxy) => {
      const commit = tx.query('END').then(() => undefined, (error: unknown) => error)
      // Committed on the server, its answer dropped: then the connection goes.
      await eventually('the row committed', () => committed(pool, id), 5_000)
      await proxy.close()
      const error = await commit
      if (!caught) throw error
      return 'looks fine'
    })
    // Before: mayHaveCommitted false, which says a retry is safe: it would apply the transaction twice.
    assert.instance(outcome, ConnectionLostError, String(outcome))
    assert.is((outcome as ConnectionLostError).mayHaveCommitted, true, caught ? 'caught' : 'rethrown')
  }
})

test.run()
