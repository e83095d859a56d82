import type { DisconnectEvent } from '@lifeguard/core'
import { ManualClock, serverConnectionCount } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite('PostgresPool maxLifetimeMillis')

test('retires idle connections after their lifetime, spread by jitter, with reason lifetime', async () => {
  const clock = new ManualClock()
  const reasons: DisconnectEvent['reason'][] = []
  const { pool, appName } = testPool('lifetime-idle', {
    clock,
    maxSize: 8,
    idleTimeoutMillis: 0,
    maxLifetimeMillis: 600,
    maxLifetimeJitterMillis: 300,
    events: { onDisconnect: (e) => void reasons.push(e.reason) },
  })
  const openedAt = clock.now()
  await pool.warmup({ connections: 8 })
  assert.is(await serverConnectionCount(appName), 8)
  // Step through time; the pool's own count drops the moment a connection is retired.
  const lifetimes: number[] = []
  let open = 8
  for (let step = 0; step < 60; step++) {
    await clock.advance(10)
    for (; pool.totalCount < open; open--) lifetimes.push(clock.now() - openedAt)
  }
  assert.is(lifetimes.length, 8)
  for (const lifetime of lifetimes) assert.ok(lifetime > 300 && lifetime <= 600, `lifetime ${lifetime}ms outside 300..600`)
  // Eight uniform draws over a 300ms window: they do not all land within a few milliseconds.
  const spread = Math.max(...lifetimes) - Math.min(...lifetimes)
  assert.ok(spread > 20, `lifetimes spread over only ${spread}ms`)
  await until('every disconnect event', () => reasons.length === 8)
  assert.equal([...new Set(reasons)], ['lifetime'])
  assert.is(pool.getPoolMetrics().totalConnections, 0)
  await closeAndCheck(pool, appName)
})

test('retires a busy connection when it is released after its lifetime, and replaces it on demand', async () => {
  const clock = new ManualClock()
  const reasons: string[] = []
  const pids = new Set<unknown>()
  const { pool, appName } = testPool('lifetime-busy', { clock, maxLifetimeMillis: 100, maxLifetimeJitterMillis: 0, events: { onDisconnect: (e) => void reasons.push(e.reason), onConnect: (e) => void pids.add(e.connectionId) } })
  const client = await pool.connect()
  await clock.advance(150)
  assert.is(reasons.length, 0, 'not closed under its holder')
  await client.query('SELECT 1')
  client.release()
  await until('the lifetime disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['lifetime'])
  await pool.query('SELECT 1')
  assert.is(pids.size, 2)
  await closeAndCheck(pool, appName)
})

test('an expired connection released while others wait is closed, not handed over', async () => {
  const clock = new ManualClock()
  const reasons: string[] = []
  const { pool, appName } = testPool('lifetime-waiter', { clock, maxSize: 1, maxLifetimeMillis: 100, maxLifetimeJitterMillis: 0, events: { onDisconnect: (e) => void reasons.push(e.reason) } })
  const client = await pool.connect()
  const first = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
  const waiting = pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
  await clock.advance(150)
  client.release()
  const { rows } = await waiting
  assert.is.not(rows[0]?.pid, first)
  await until('the lifetime disconnect', () => reasons.length === 1)
  assert.equal(reasons, ['lifetime'])
  await closeAndCheck(pool, appName)
})

test.run()
