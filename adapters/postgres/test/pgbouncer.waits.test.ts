import { ConnectionLostError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool } from '../src/index.js'
import { rejects, startPgBouncer, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'

// What PgBouncer does with a statement while no server connection is free: it holds it, and after its
// `query_wait_timeout` answers in the server's place.
const test = suite('PostgresPool behind PgBouncer: a statement PgBouncer held and gave up on')

test('ends in ConnectionLostError with mayHaveCommitted false: PgBouncer never passed it on, a retry is safe', async () => {
  const bouncer = await startPgBouncer({ poolMode: 'transaction', defaultPoolSize: 1, queryWaitTimeoutSeconds: 1 })
  const appName = uniqueAppName('pgbouncer-held')
  const pool = createPostgresPool({ name: 'held', connectionString: bouncer.connectionString, applicationName: appName, maxSize: 2 })
  try {
    // One client holds the only server connection in an open transaction; the other's statement waits in PgBouncer.
    const holder = await pool.connect()
    await holder.query('BEGIN')
    const error = await rejects(pool.query('SELECT 1'), ConnectionLostError, 'ERR_CONNECTION_LOST')
    assert.is(error.mayHaveCommitted, false)
    assert.match(String((error.cause as Error).message), 'query_wait_timeout')
    await holder.query('ROLLBACK')
    holder.release()
  } finally {
    await pool.close()
    await bouncer.stop()
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
