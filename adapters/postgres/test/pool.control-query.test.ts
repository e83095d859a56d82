import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { controlQuery, type ControlQuery } from '@lifeguard/core/adapter'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool } from '../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('control queries (a connection budget counts through them)')

/** Starts 20 slow queries on a pool of two, then a control query: how many of the 20 had finished when it answered. */
async function finishedBeforeControl(pool: { query(text: string): Promise<unknown>; [controlQuery]: ControlQuery }): Promise<number> {
  let finished = 0
  const load = Array.from({ length: 20 }, () => pool.query('SELECT pg_sleep(0.02)').then(() => void finished++))
  const { rows } = await pool[controlQuery]('SELECT $1::int AS n', [7])
  assert.equal(rows, [{ n: 7 }])
  const before = finished
  await Promise.all(load)
  return before
}

test('a PostgresPool serves a control query on its next free connection, ahead of every waiting query', async () => {
  const { pool, appName } = testPool('control-query', { maxSize: 2 })
  await pool.warmup({ connections: 2 })
  const finished = await finishedBeforeControl(pool)
  assert.ok(finished <= 3, `${finished} of 20 queries finished before it`)
  await closeAndCheck(pool, appName)
})

test('the drop-in Pool does the same', async () => {
  const appName = uniqueAppName('control-query-drop-in')
  const { host, port, user, database } = pgConfig()
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 2 })
  const finished = await finishedBeforeControl(pool)
  assert.ok(finished <= 3, `${finished} of 20 queries finished before it`)
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test("a control query started inside an operation is not that operation's: not attributed to it, not ended with it", async () => {
  const operations: (string | undefined)[] = []
  const { pool, appName } = testPool('control-query-owner', { maxSize: 1, events: { onQuery: () => void operations.push(OperationContext.tryCurrent()?.operation) } })
  const client = new AbortController()
  const operation = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer(), signal: client.signal })
  const holder = await pool.connect()
  // Waiting for the only connection when the operation's caller goes away.
  const count = operation.run(() => pool[controlQuery]('SELECT 1 AS one', []))
  client.abort()
  holder.release()
  assert.equal((await count).rows, [{ one: 1 }])
  assert.equal(operations, [undefined])
  await operation.dispose()
  await closeAndCheck(pool, appName)
})

test.run()
