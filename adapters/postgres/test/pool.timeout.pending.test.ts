import { PoolTimeoutError, type TimeoutEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool } from '../src/index.js'
import { ManualClock, blackholeServer, rejects, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { until } from './_helpers/pools.js'

const test = suite('PostgresPool bounded waiting: a connection attempt still pending')

test('with the default connectTimeoutMillis, the first timeout against a server that never answers says an attempt is pending', async () => {
  const hole = await blackholeServer()
  const clock = new ManualClock()
  const appName = uniqueAppName('timeout-pending')
  const timeouts: TimeoutEvent[] = []
  const pool = createPostgresPool({
    name: 'pending',
    connectionString: `postgres://app:pw-s3cret@${hole.host}:${hole.port}/db`,
    applicationName: appName,
    acquireTimeoutMillis: 500,
    clock,
    events: { onTimeout: (e) => void timeouts.push(e) },
  })
  try {
    const waiting = rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    await until('the connection attempt to reach the server', () => hole.connections() === 1)
    await clock.advance(500)
    const error = await waiting
    assert.match(error.message, '0 other request(s) were waiting. 1 connection attempt(s) were still pending.', 'not a busy pool')
    assert.instance(error.cause, Error)
    assert.match((error.cause as Error).message, 'A connection attempt to the server has not completed within 500ms; 1 connection attempt(s) still pending.')
    assert.match(timeouts[0]?.cause?.message ?? '', 'has not completed within 500ms')
    for (const text of [error.message, String((error.cause as Error).stack), timeouts[0]?.cause?.message ?? '']) assert.not.match(text, 's3cret')
  } finally {
    await pool.close({ timeoutMillis: 100 })
    await hole.close()
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
