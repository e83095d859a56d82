import { PoolClosedError, PoolWarmupError, createPoolRegistry, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool } from '../src/index.js'
import { blackholeServer, closedPort, serverConnectionCount, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('PostgresPool warmup')

test('opens minSize connections in parallel, validates them and marks the pool ready', async () => {
  const connects: number[] = []
  const { pool, appName } = testPool('warmup-min', { minSize: 3, maxSize: 5, events: { onConnect: (e) => void connects.push(e.createMillis) } })
  assert.is(pool.state, 'created')
  const report = await pool.warmup()
  assert.is(report.pool, 'warmup-min')
  assert.is(report.requested, 3)
  assert.is(report.opened, 3)
  assert.is(report.failed, 0)
  assert.ok(report.durationMillis > 0)
  assert.is(pool.state, 'ready')
  assert.is(connects.length, 3)
  assert.is(await serverConnectionCount(appName), 3)
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.idleConnections, 3)
  assert.is(metrics.activeConnections, 0)
  await closeAndCheck(pool, appName)
})

test('opens the number asked, and the first query after it opens no new connection', async () => {
  let connects = 0
  const { pool, appName } = testPool('warmup-asked', { maxSize: 4, events: { onConnect: () => void connects++ } })
  const report = await pool.warmup({ connections: 2 })
  assert.is(report.opened, 2)
  assert.is(connects, 2)
  await pool.query('SELECT 1')
  assert.is(connects, 2)
  await closeAndCheck(pool, appName)
})

test('opens one connection when minSize is 0', async () => {
  const { pool, appName } = testPool('warmup-default')
  const report = await pool.warmup()
  assert.is(report.requested, 1)
  assert.is(report.opened, 1)
  await closeAndCheck(pool, appName)
})

test('rejects a connection count outside 1..maxSize', async () => {
  const { pool, appName } = testPool('warmup-invalid', { maxSize: 2 })
  const error = await rejects(pool.warmup({ connections: 3 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(error.message, '`connections` to be an integer between 1 and 2, got `3`')
  assert.is(pool.state, 'created')
  await closeAndCheck(pool, appName)
})

test('fails with PoolWarmupError on a refused port, showing the target without the password', async () => {
  const port = await closedPort()
  const appName = uniqueAppName('warmup-refused')
  const pool = createPostgresPool({ name: 'refused', connectionString: `postgres://app:hunter2-secret@127.0.0.1:${port}/orders`, applicationName: appName, minSize: 2 })
  const error = await rejects(pool.warmup(), PoolWarmupError, 'ERR_POOL_WARMUP')
  assert.match(error.message, `Could not warm up pool 'refused' (postgres://app@127.0.0.1:${port}/orders)`)
  assert.match(error.message, 'None of 2 connection(s) could be opened')
  assert.match(error.message, 'ECONNREFUSED')
  assert.not.match(error.message, 'hunter2')
  assert.instance(error.cause, Error)
  assert.is((error.cause as { code?: string }).code, 'ECONNREFUSED')
  assert.is(pool.state, 'created')
  assert.is(pool.getPoolMetrics().errors, 2)
  await pool.close()
  await waitForConnectionCount(appName, 0)
})

test('fails with PoolWarmupError when the server never answers, within timeoutMillis', async () => {
  const hole = await blackholeServer()
  const appName = uniqueAppName('warmup-blackhole')
  const pool = createPostgresPool({ name: 'blackhole', host: hole.host, port: hole.port, user: 'app', database: 'orders', applicationName: appName })
  try {
    const started = Date.now()
    const error = await rejects(pool.warmup({ timeoutMillis: 150 }), PoolWarmupError, 'ERR_POOL_WARMUP')
    assert.ok(Date.now() - started < 2000)
    assert.match(error.message, `(postgres://app@127.0.0.1:${hole.port}/orders)`)
    assert.match(error.message, 'timed out')
    assert.is(hole.connections(), 1)
  } finally {
    await pool.close()
    await hole.close()
  }
  await waitForConnectionCount(appName, 0)
})

test('a registry warms every pool up and becomes ready', async () => {
  const registry = createPoolRegistry()
  const a = testPool('warmup-registry-a', { minSize: 1 })
  const b = testPool('warmup-registry-b', { minSize: 2 })
  registry.register(a.pool)
  registry.register(b.pool)
  const report = await registry.warmup()
  assert.equal(report.pools.map((p) => p.opened), [1, 2])
  assert.ok(registry.isReady)
  await registry.close()
  await waitForConnectionCount(a.appName, 0)
  await waitForConnectionCount(b.appName, 0)
})

test('refuses to warm up a closed pool', async () => {
  const { pool, appName } = testPool('warmup-closed')
  await pool.close()
  await rejects(pool.warmup(), PoolClosedError, 'ERR_POOL_CLOSED')
  await closeAndCheck(pool, appName)
})

test.run()
