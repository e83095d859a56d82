import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ManualClock } from '@lifeguard/test-kit'
import { PoolStats, type LivePoolState } from '../src/adapter.js'

const live: LivePoolState = { totalConnections: 4, activeConnections: 1, idleConnections: 3, waitingRequests: 2, minSize: 2, maxSize: 10 }
const password = 'Tr0ub4dor-and-3'

const stats = suite('PoolStats')

stats('a new pool reports the live numbers, zero counters and empty summaries', () => {
  const before = Date.now()
  const pool = new PoolStats()
  const metrics = pool.snapshot(live)
  assert.is(metrics.totalConnections, 4)
  assert.is(metrics.activeConnections, 1)
  assert.is(metrics.idleConnections, 3)
  assert.is(metrics.waitingRequests, 2)
  assert.is(metrics.minSize, 2)
  assert.is(metrics.maxSize, 10)
  assert.is(metrics.errors, 0)
  assert.is(metrics.timeouts, 0)
  assert.is(metrics.leaks, 0)
  assert.is(metrics.avgResponseTime, 0)
  assert.instance(metrics.created, Date)
  assert.ok(metrics.created.getTime() >= before)
  assert.not.ok('lastError' in metrics)
  assert.not.ok('lastUsed' in metrics)
  assert.is(metrics.useTime.count, 0)
})

stats('avgResponseTime is the mean use time (checkout to release), not the wait time', () => {
  const pool = new PoolStats()
  pool.recordWait(500)
  for (const millis of [10, 20, 30]) pool.recordUse(millis)
  const metrics = pool.snapshot(live)
  assert.is(metrics.avgResponseTime, 20)
  assert.is(metrics.avgResponseTime, metrics.useTime.mean)
  assert.is(metrics.waitTime.mean, 500)
})

stats('wait, use and create times each get their own summary', () => {
  const pool = new PoolStats()
  pool.recordWait(1)
  pool.recordWait(3)
  pool.recordUse(7)
  pool.recordCreate(12)
  const metrics = pool.snapshot(live)
  assert.equal(metrics.waitTime, { count: 2, sum: 4, mean: 2, p50: 1, p95: 3, p99: 3, max: 3 })
  assert.is(metrics.useTime.count, 1)
  assert.is(metrics.createTime.max, 12)
})

stats('the window size option bounds the summaries but not the lifetime count', () => {
  const pool = new PoolStats({ windowSize: 2 })
  for (const millis of [100, 1, 3]) pool.recordUse(millis)
  const metrics = pool.snapshot(live)
  assert.is(metrics.avgResponseTime, 2)
  assert.is(metrics.useTime.count, 3)
  assert.is(metrics.useTime.sum, 104)
})

stats('lastUsed follows the latest checkout or release', async () => {
  // The pool's clock, not the wall clock: the date is `created` plus the time its clock measured since.
  const clock = new ManualClock()
  const pool = new PoolStats({ clock })
  assert.is(pool.snapshot(live).lastUsed, undefined)
  await clock.advance(5)
  pool.recordWait(0)
  const first = pool.snapshot(live).lastUsed
  assert.instance(first, Date)
  assert.is((first as Date).getTime(), pool.created.getTime() + 5)
  await clock.advance(3)
  pool.recordUse(0)
  assert.is((pool.snapshot(live).lastUsed as Date).getTime(), pool.created.getTime() + 8)
})

stats('a snapshot\'s dates are its own: changing them moves neither created nor later lastUsed', async () => {
  const clock = new ManualClock()
  const pool = new PoolStats({ clock })
  const created = pool.created.getTime()
  const first = pool.snapshot(live)
  // A dashboard formatting its copy in place.
  first.created.setFullYear(2000)
  await clock.advance(5)
  pool.recordWait(0)
  const second = pool.snapshot(live)
  assert.is(second.created.getTime(), created)
  assert.is(pool.created.getTime(), created)
  assert.is((second.lastUsed as Date).getTime(), created + 5)
})

stats('counts errors and keeps the last message with the secrets removed', () => {
  const pool = new PoolStats({ secrets: [password] })
  const safe = pool.recordError(new Error(`password authentication failed: ${password}`))
  pool.recordError(new Error(`connect to postgres://app:${password}@db/orders refused`))
  const metrics = pool.snapshot(live)
  assert.is(metrics.errors, 2)
  assert.is(metrics.lastError, 'connect to postgres://app:***@db/orders refused')
  assert.is(safe.message, 'password authentication failed: ***')
  assert.not.match(JSON.stringify(metrics), password)
})

stats('redact() scrubs without counting', () => {
  const pool = new PoolStats({ secrets: [password] })
  assert.is(pool.redact(new Error(`bad ${password}`)).message, 'bad ***')
  assert.is(pool.snapshot(live).errors, 0)
})

stats('counts timeouts and leaks', () => {
  const pool = new PoolStats()
  pool.recordTimeout()
  pool.recordTimeout()
  pool.recordLeak()
  const metrics = pool.snapshot(live)
  assert.is(metrics.timeouts, 2)
  assert.is(metrics.leaks, 1)
})

stats.run()
