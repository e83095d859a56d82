// A planned switchover with the maintenance controls (HikariCP's recipe): suspend the pool, evict its
// connections, stop the old primary, promote the standby, warm up, resume. Under steady writes, no
// request may fail: they wait through the switch. Private clusters, removed in `after`.
import { createServiceContainer, type DisconnectEvent, type ResumeEvent } from '@lifeguard/core'
import { startPrivateCluster, startStandby, type PrivateCluster } from '@lifeguard/test-kit'
import { loadavg } from 'node:os'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool, registerPostgres } from '../src/index.js'
import { eventually, failuresByCause, startFailoverLoad } from './_helpers/failover-load.js'

const table = 'switchover_writes'

const test = suite<{ primary: PrivateCluster; standby: PrivateCluster }>('a planned switchover with suspend, softEvict and resume (private clusters)')

test.before(async (context) => {
  context.primary = await startPrivateCluster({ maxConnections: 30 })
  context.standby = await startStandby(context.primary)
  await context.primary.sql(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, writer int NOT NULL)`)
  await eventually('the table to reach the standby', async () => (await context.standby.sql(`SELECT to_regclass('${table}') IS NOT NULL`)).trim() === 't')
})

test.after(async ({ primary, standby }) => {
  await standby?.destroy()
  await primary?.destroy()
})

test('writes wait through the switch and none fails', async ({ primary, standby }) => {
  const disconnects: DisconnectEvent[] = []
  const resumes: ResumeEvent[] = []
  const appName = 'switchover'
  const pool = createPostgresPool({
    name: appName,
    hosts: [{ host: primary.host, port: primary.port }, { host: standby.host, port: standby.port }],
    user: 'postgres',
    database: 'postgres',
    applicationName: appName,
    targetSessionAttrs: 'read-write',
    maxSize: 6,
    acquireTimeoutMillis: 20_000,
    events: { onDisconnect: (e) => void disconnects.push(e), onResume: (e) => void resumes.push(e) },
  })
  const load = startFailoverLoad(table, registerPostgres(createServiceContainer(), pool), 6)
  await eventually('writes to run', () => load.outcomes.length > 200)

  const started = performance.now()
  pool.suspend()
  assert.is(pool.getPoolMetrics().suspended, true)
  // Work already holding a connection finishes; everything else waits in line.
  await eventually('checked-out work to finish', () => pool.activeCount === 0)
  const evicted = pool.softEvict()
  assert.ok(evicted.closed > 0 && evicted.closingOnRelease === 0, JSON.stringify(evicted))
  assert.is(pool.totalCount, 0, 'every connection was idle, and closed')
  await eventually('the old primary to see none of the pool', async () => (await primary.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`)).trim() === '0')
  await primary.stop('fast')
  await standby.promote()
  const warm = await pool.warmup({ connections: 2 })
  assert.is(warm.opened, 2)
  pool.resume()
  const resumed = performance.now()
  await eventually('writes on the new primary', () => load.outcomes.filter((o) => o.port === standby.port).length > 200)
  const outcomes = await load.stop()

  assert.equal(failuresByCause(outcomes), {}, 'no request failed')
  assert.ok(outcomes.every((o) => o.port === primary.port || o.port === standby.port))
  assert.is(pool.getPoolMetrics().suspended, false)
  assert.is(disconnects.filter((e) => e.reason === 'evicted').length, evicted.closed)
  assert.is(resumes.length, 1)
  assert.ok((resumes[0]?.waitingRequests ?? 0) > 0, 'writers waited through the switch')
  const waitMax = pool.getPoolMetrics().waitTime.max
  process.stdout.write(
    `\n    switchover: suspended for ${((resumed - started) / 1000).toFixed(2)} s (stop, promote, warm-up), ${resumes[0]?.waitingRequests} writers held, longest wait ${(waitMax / 1000).toFixed(2)} s, 0 failed; load average ${(loadavg()[0] as number).toFixed(2)}\n`,
  )
  await pool.close()
  await eventually('the pool to leave the new primary', async () => (await standby.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`)).trim() === '0')
})

test.run()
