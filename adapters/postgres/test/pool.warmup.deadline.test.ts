import { PoolWarmupError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock, pgConfig, rejects, serverConnectionCount, waitForConnectionCount } from '@lifeguard/test-kit'
import { silentProxy } from './_helpers/silent-proxy.js'
import { testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool warmup: one deadline for the whole call')

test("a validation that never answers fails when warmup's timeoutMillis is up, naming that option", async () => {
  const { host, port } = pgConfig()
  const proxy = await silentProxy({ host, port })
  // Logins pass, `SELECT 1` is never answered.
  proxy.answerLoginsOnly()
  const clock = new ManualClock()
  let connected = 0
  const { pool, appName } = testPool('warmup-deadline', { host: proxy.host, port: proxy.port, clock, connectTimeoutMillis: 5000, events: { onConnect: () => void connected++ } })
  try {
    const warming = rejects(pool.warmup({ connections: 1, timeoutMillis: 450 }), PoolWarmupError, 'ERR_POOL_WARMUP')
    await until('the login to pass', () => connected === 1)
    assert.is(await serverConnectionCount(appName), 1)
    await clock.advance(450)
    const error = await warming
    assert.match(error.message, 'took longer than 450ms (timeoutMillis of warmup())')
    assert.not.match(error.message, 'connectTimeoutMillis')
    assert.is(pool.totalCount, 0)
    await waitForConnectionCount(appName, 0)
  } finally {
    await pool.close({ timeoutMillis: 100 })
    await proxy.close()
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
