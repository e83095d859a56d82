import { OperationAbortedError, OperationContext, PoolExhaustedError, PoolTimeoutError, createServiceContainer, type TimeoutEvent } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresConnectError, createPostgresPool } from '../src/index.js'
import { ManualClock, blackholeServer, closedPort, pgConfig, uniqueAppName, waitForConnectionCount, rejects } from '@lifeguard/test-kit'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool bounded waiting')

test('times out a waiter after acquireTimeoutMillis with PoolTimeoutError and onTimeout', async () => {
  const timeouts: TimeoutEvent[] = []
  const clock = new ManualClock()
  const { pool, appName } = testPool('timeout-full', { maxSize: 1, acquireTimeoutMillis: 100, clock, events: { onTimeout: (e) => void timeouts.push(e) } })
  const holder = await pool.connect()
  let settled = false
  const waiting = pool.connect()
  const settle = (): void => void (settled = true)
  waiting.then(settle, settle)
  await clock.advance(99)
  assert.is(settled, false, 'still waiting 1 ms before the timeout')
  await clock.advance(1)
  const error = await rejects(waiting, PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.match(error.message, "Could not acquire a connection from pool 'timeout-full'. Timed out after 100ms.")
  assert.is(error.cause, undefined)
  assert.is(timeouts.length, 1)
  assert.is(timeouts[0]?.waitMillis, 100)
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.timeouts, 1)
  assert.is(metrics.waitingRequests, 0)
  assert.is(metrics.activeConnections, 1)
  holder.release()
  await closeAndCheck(pool, appName)
})

test('gives every waiter the last connect error as cause when the port refuses', async () => {
  const port = await closedPort()
  const appName = uniqueAppName('timeout-refused')
  const pool = createPostgresPool({ name: 'refused', connectionString: `postgres://app:pw-s3cret@127.0.0.1:${port}/db`, applicationName: appName, maxSize: 1, acquireTimeoutMillis: 300 })
  const errors = await Promise.all([1, 2, 3].map(() => rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')))
  for (const error of errors) {
    assert.instance(error.cause, Error)
    assert.is((error.cause as { code?: string }).code, 'ECONNREFUSED')
    assert.not.match(String((error.cause as Error).stack), 's3cret')
  }
  const metrics = pool.getPoolMetrics()
  assert.ok(metrics.errors >= 2, `retried: ${metrics.errors} errors`)
  assert.match(metrics.lastError ?? '', 'ECONNREFUSED')
  assert.is(metrics.timeouts, 3)
  assert.is(metrics.activeConnections, 0)
  await pool.close()
  await waitForConnectionCount(appName, 0)
})

test('bounds a connection attempt to a server that never answers by connectTimeoutMillis', async () => {
  const hole = await blackholeServer()
  const appName = uniqueAppName('timeout-blackhole')
  const pool = createPostgresPool({ name: 'blackhole', host: hole.host, port: hole.port, user: 'app', applicationName: appName, acquireTimeoutMillis: 400, connectTimeoutMillis: 100 })
  try {
    const error = await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    assert.match(error.message, 'Timed out after 400ms')
    assert.match((error.cause as Error).message, 'Connection attempt timed out after 100ms (connectTimeoutMillis)')
    assert.is((error.cause as { code?: string }).code, 'ERR_CONNECT_TIMEOUT')
    assert.ok(hole.connections() >= 2, `attempts: ${hole.connections()}`)
  } finally {
    await pool.close()
    await hole.close()
  }
  await waitForConnectionCount(appName, 0)
})

test('fails at once with PostgresConnectError when the server refuses the login outright', async () => {
  const appName = uniqueAppName('timeout-nodb')
  // The refusal ends the wait: a timeout would have given PoolTimeoutError.
  const pool = createPostgresPool({ ...pgConfig(), name: 'nodb', database: 'lifeguard_missing_db', applicationName: appName, acquireTimeoutMillis: 5000 })
  const error = await rejects(pool.query('SELECT 1'), PostgresConnectError, 'ERR_POSTGRES_CONNECT')
  assert.is(error.sqlState, '3D000')
  assert.match(error.message, "Could not connect pool 'nodb' to postgres://")
  assert.match(error.message, 'lifeguard_missing_db')
  await pool.close()
  await waitForConnectionCount(appName, 0)
})

test('rejects at once with PoolExhaustedError beyond maxWaitingRequests', async () => {
  const { pool, appName } = testPool('timeout-exhausted', { maxSize: 1, maxWaitingRequests: 1, acquireTimeoutMillis: 2000 })
  const holder = await pool.connect()
  const waiting = pool.connect()
  const error = await rejects(pool.connect(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  holder.release()
  ;(await waiting).release()
  assert.match(error.message, "Could not acquire a connection from pool 'timeout-exhausted'. The pool is exhausted: 1 request(s)")
  await closeAndCheck(pool, appName)
})

test('never queues with maxWaitingRequests 0', async () => {
  const { pool, appName } = testPool('timeout-nowait', { maxSize: 1, maxWaitingRequests: 0 })
  const holder = await pool.connect()
  await rejects(pool.query('SELECT 1'), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  holder.release()
  await pool.query('SELECT 1')
  await closeAndCheck(pool, appName)
})

test('a waiter whose operation aborts leaves the queue and never receives a client', async () => {
  const { pool, appName } = testPool('timeout-abort', { maxSize: 1, acquireTimeoutMillis: 5000 })
  const holder = await pool.connect()
  const controller = new AbortController()
  const context = OperationContext.create('api', 'GET /slow', { container: createServiceContainer(), signal: controller.signal })
  const waiting = context.run(() => pool.connect())
  assert.is(pool.waitingCount, 1)
  controller.abort()
  const error = await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.match(error.message, "Could not acquire a connection from pool 'timeout-abort'. The operation was aborted.")
  assert.is(pool.waitingCount, 0)
  holder.release()
  await until('the released connection to go idle', () => pool.idleCount === 1)
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.activeConnections, 0)
  assert.is(metrics.idleConnections, 1)
  await context.dispose()
  await closeAndCheck(pool, appName)
})

test('an operation that aborts while a connection is being opened stops waiting for it', async () => {
  const hole = await blackholeServer()
  const appName = uniqueAppName('timeout-abort-connect')
  // The abort ends the wait: a timeout would have given PoolTimeoutError.
  const pool = createPostgresPool({ name: 'abort-connect', host: hole.host, port: hole.port, user: 'app', applicationName: appName, acquireTimeoutMillis: 5000, connectTimeoutMillis: 5000 })
  const controller = new AbortController()
  const context = OperationContext.create('api', 'GET /x', { container: createServiceContainer(), signal: controller.signal })
  try {
    const waiting = context.run(() => pool.connect())
    await until('a connection attempt to start', () => hole.connections() === 1)
    controller.abort()
    await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
    assert.is(pool.activeCount, 0)
  } finally {
    await context.dispose()
    await pool.close()
    await hole.close()
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
