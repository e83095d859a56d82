import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { PostgresPool, PostgresPoolClient } from '../src/index.js'
import { serverConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite<{ pool: PostgresPool; appName: string }>('PostgresPool metrics')

test.before((context) => {
  Object.assign(context, testPool('pool-metrics', { maxSize: 5 }))
})

test.after(async ({ pool, appName }) => {
  await closeAndCheck(pool, appName)
})

test('reports every PoolMetrics field before any use', ({ pool }) => {
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.totalConnections, 0)
  assert.is(metrics.activeConnections, 0)
  assert.is(metrics.idleConnections, 0)
  assert.is(metrics.waitingRequests, 0)
  assert.is(metrics.errors, 0)
  assert.is(metrics.lastError, undefined)
  assert.is(metrics.avgResponseTime, 0)
  assert.instance(metrics.created, Date)
  assert.is(metrics.lastUsed, undefined)
  assert.is(metrics.minSize, 0)
  assert.is(metrics.maxSize, 5)
  assert.is(metrics.timeouts, 0)
  assert.is(metrics.leaks, 0)
  for (const summary of [metrics.waitTime, metrics.useTime, metrics.createTime]) {
    assert.equal(summary, { count: 0, sum: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 })
  }
})

test('counts N held clients as active, and the server sees the same total', async ({ pool, appName }) => {
  const held: PostgresPoolClient[] = []
  for (let i = 0; i < 3; i++) held.push(await pool.connect())
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.activeConnections, 3)
  assert.is(metrics.totalConnections, 3)
  assert.is(metrics.idleConnections, 0)
  assert.is(await serverConnectionCount(appName), metrics.totalConnections)
  held.pop()?.release()
  const after = pool.getPoolMetrics()
  assert.is(after.activeConnections, 2)
  assert.is(after.idleConnections, 1)
  assert.is(after.totalConnections, 3)
  for (const client of held) client.release()
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  assert.is(await serverConnectionCount(appName), 3)
})

test('records wait, use and create times, lastUsed and avgResponseTime', async ({ pool }) => {
  const before = pool.getPoolMetrics()
  const client = await pool.connect()
  await client.query('SELECT pg_sleep(0.02)')
  client.release()
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.waitTime.count, before.waitTime.count + 1)
  assert.is(metrics.useTime.count, before.useTime.count + 1)
  assert.ok(metrics.useTime.max >= 15, `use time max ${metrics.useTime.max}`)
  assert.ok(metrics.avgResponseTime > 0)
  assert.is(metrics.createTime.count, 3)
  assert.ok(metrics.createTime.p50 > 0)
  assert.instance(metrics.lastUsed, Date)
  assert.ok(Date.now() - (metrics.lastUsed as Date).getTime() < 5000)
})

test('counts waiting requests while the pool is full', async ({ pool }) => {
  const held = await Promise.all(Array.from({ length: 5 }, () => pool.connect()))
  const waiting = [pool.connect(), pool.connect()]
  assert.is(pool.getPoolMetrics().waitingRequests, 2)
  assert.is(pool.waitingCount, 2)
  for (const client of held) client.release()
  const served = await Promise.all(waiting)
  assert.is(pool.getPoolMetrics().waitingRequests, 0)
  assert.is(pool.getPoolMetrics().activeConnections, 2)
  for (const client of served) client.release()
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  assert.is(pool.getPoolMetrics().totalConnections, 5)
})

test('a released connection goes straight to the next waiter, still counted right', async ({ pool }) => {
  const held = await Promise.all(Array.from({ length: 5 }, () => pool.connect()))
  const pids = await Promise.all(held.map(async (client) => (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid))
  const waiting = pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  held[2]?.release()
  const { rows } = await waiting
  assert.is(rows[0]?.pid, pids[2], 'the waiter got the connection just released')
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.activeConnections, 4)
  assert.is(metrics.idleConnections, 1)
  assert.is(metrics.totalConnections, 5)
  for (const [index, client] of held.entries()) if (index !== 2) client.release()
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  assert.is(pool.getPoolMetrics().idleConnections, 5)
})

test.run()
