import { createServiceContainer, runOperation, OperationAbortedError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool, registerPostgres } from '../src/index.js'
import { rejects, startPgBouncer, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'

// A cancel request goes to PgBouncer on a connection of its own. Sent and half-closed at once (`end()`),
// PgBouncer 1.18 (Debian 12's) freed that connection's slot before it had passed the request on: the slot
// went to another client's login, which it then dropped ("successfully sent cancel request"), or it failed
// an assertion and exited. Sent and left open until PgBouncer closes it, as libpq does, it is fine.
const test = suite('PostgresPool behind PgBouncer: cancel requests from aborted operations')

test('statements of aborted operations are cancelled, while other clients query on unharmed', async () => {
  const bouncer = await startPgBouncer({ poolMode: 'transaction', defaultPoolSize: 2 })
  const appName = uniqueAppName('pgbouncer-cancels')
  const pool = createPostgresPool({ name: 'cancels', connectionString: bouncer.connectionString, applicationName: appName, maxSize: 4, pooler: 'pgbouncer-transaction' })
  const container = registerPostgres(createServiceContainer(), pool)
  let bystanderQueries = 0
  const bystanderFailures: unknown[] = []
  let running = true
  // A client that logs in again and again (a fresh connection each time) beside the cancels.
  const bystander = (async () => {
    while (running) {
      const fresh = createPostgresPool({ name: 'bystander', connectionString: bouncer.connectionString, applicationName: appName, maxSize: 1 })
      try {
        await fresh.query('SELECT 1')
        bystanderQueries++
      } catch (error) {
        bystanderFailures.push(error)
      } finally {
        await fresh.close()
      }
    }
  })()
  try {
    for (let round = 0; round < 5; round++) {
      const abort = new AbortController()
      const aborted = runOperation('cancels', 'sleep', (context) => context.postgres.transaction(async (tx) => {
        await tx.query('SELECT 1')
        const sleeping = tx.query('SELECT pg_sleep(30)')
        abort.abort(new Error('client gone'))
        await sleeping
      }), { container, signal: abort.signal })
      await rejects(aborted, OperationAbortedError, 'ERR_OPERATION_ABORTED')
    }
    running = false
    await bystander
    assert.equal(bystanderFailures.map(String), [], 'no login dropped for a cancel request')
    assert.ok(bystanderQueries > 0)
    assert.equal((await pool.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }], 'PgBouncer still answers')
  } finally {
    running = false
    await bystander.catch(() => undefined)
    await container.dispose()
    await pool.close()
    await bouncer.stop()
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
