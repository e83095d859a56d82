// An unplanned failover: the primary crashes (SIGKILL) and the standby is promoted a second later, as an
// orchestrator would after noticing. Writes issued during the outage wait for a server that fits and
// run on the new primary. Private clusters, removed in `after` even when a test fails.
import { ConnectionLostError, PoolTimeoutError, createServiceContainer } from '@lifeguard/core'
import { startPrivateCluster, startStandby, type PrivateCluster } from '@lifeguard/test-kit'
import { loadavg } from 'node:os'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool, registerPostgres } from '../src/index.js'
import { eventually, failuresByCause, startFailoverLoad } from './_helpers/failover-load.js'

const table = 'crash_writes'
const DETECTION_MILLIS = 1000

const test = suite<{ primary: PrivateCluster; standby: PrivateCluster }>('an unplanned failover: the primary crashes, the standby is promoted (private clusters)')

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

test('writes issued while no server fits wait, and run on the new primary once it is promoted', async ({ primary, standby }) => {
  const appName = 'crash'
  const pool = createPostgresPool({
    name: appName,
    hosts: [{ host: primary.host, port: primary.port }, { host: standby.host, port: standby.port }],
    user: 'postgres',
    database: 'postgres',
    applicationName: appName,
    targetSessionAttrs: 'read-write',
    maxSize: 6,
    acquireTimeoutMillis: 10_000,
    connectTimeoutMillis: 1000,
  })
  const load = startFailoverLoad(table, registerPostgres(createServiceContainer(), pool), 6)
  await eventually('writes to run', () => load.outcomes.length > 200)
  const load1 = loadavg()[0] as number
  const crashed = performance.now()
  await primary.kill()
  // The orchestrator's detection delay: meanwhile every new connection finds no server that fits.
  await new Promise((resolve) => setTimeout(resolve, DETECTION_MILLIS))
  const promoting = performance.now()
  await standby.promote()
  await eventually('writes on the new primary', () => load.outcomes.filter((o) => o.port === standby.port).length > 100)
  const outcomes = await load.stop()

  const found = outcomes.find((o) => o.port === standby.port)?.at ?? Infinity
  const waitedThrough = outcomes.filter((o) => o.port === standby.port && o.started > crashed && o.started < promoting)
  assert.ok(waitedThrough.length > 0, 'writes issued during the outage ran on the new primary')
  const untyped = outcomes.filter((o) => o.error !== undefined && !o.typed)
  assert.is(untyped.length, 0, JSON.stringify(failuresByCause(untyped)))
  const known = new Set([ConnectionLostError.name, PoolTimeoutError.name])
  for (const o of outcomes) if (o.error !== undefined) assert.ok(known.has(o.error), `unexpected ${o.error}: ${o.cause}`)
  assert.ok(outcomes.filter((o) => o.at > found).every((o) => o.port === undefined || o.port === standby.port))
  process.stdout.write(
    `\n    crash failover: first write on the new primary ${((found - crashed) / 1000).toFixed(2)} s after the crash, ${((found - promoting) / 1000).toFixed(2)} s after the promotion began (${((promoting - crashed) / 1000).toFixed(2)} s after the crash: the kill, then a detection delay of ${DETECTION_MILLIS} ms); ${waitedThrough.length} writes waited through the outage; load average ${load1.toFixed(2)}\n` +
      `    failures by cause: ${JSON.stringify(failuresByCause(outcomes))}\n`,
  )
  await pool.close()
  await eventually('the pool to leave the new primary', async () => (await standby.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`)).trim() === '0')
})

test.run()
