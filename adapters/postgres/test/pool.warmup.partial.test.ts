// A warmup that can open only some of its connections, made exact: a private cluster whose few
// connection slots are taken, so the server has room for two more and refuses the third. A slot is
// claimed atomically as a connection starts, unlike a role's CONNECTION LIMIT, which three
// connections starting at once can each read before the others count.
import { startPrivateCluster, type PrivateCluster } from '@lifeguard/test-kit'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool } from '../src/index.js'
import { eventually } from './_helpers/failover-load.js'

const SLOTS = 4
const HELD = 2

const test = suite<{ cluster: PrivateCluster }>('PostgresPool warmup with a full server (private cluster)')

test.before(async (context) => {
  // No reserved slots, so the superuser this cluster trusts sees exactly `SLOTS` of them.
  context.cluster = await startPrivateCluster({ maxConnections: SLOTS, settings: { superuser_reserved_connections: 0 } })
})

test.after(async ({ cluster }) => {
  await cluster?.destroy()
})

async function connectionsOf(cluster: PrivateCluster, appName: string): Promise<number> {
  return Number(await cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`))
}

test('reports opened and failed when only some connections open', async ({ cluster }) => {
  const held = Array.from({ length: HELD }, () => new pg.Client({ ...cluster.connection, application_name: 'warmup-holder' }))
  await Promise.all(held.map((client) => client.connect()))
  const appName = 'warmup-partial'
  const pool = createPostgresPool({ name: appName, ...cluster.connection, applicationName: appName, maxSize: 3 })
  try {
    const report = await pool.warmup({ connections: 3 })
    assert.is(report.requested, 3)
    assert.is(report.opened, SLOTS - HELD)
    assert.is(report.failed, 1)
    assert.is(pool.state, 'ready')
    const metrics = pool.getPoolMetrics()
    assert.is(metrics.idleConnections, SLOTS - HELD)
    assert.is(metrics.errors, 1)
    assert.match(metrics.lastError ?? '', 'too many clients')
  } finally {
    await pool.close({ timeoutMillis: 1000 })
    await Promise.all(held.map((client) => client.end()))
  }
  // Every slot is free again, so the count's own connection fits; the backends exit just after their sockets close.
  await eventually(`${appName} to leave the server`, async () => (await connectionsOf(cluster, appName)) === 0, 5000)
})

test.run()
