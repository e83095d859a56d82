// Failover between two real servers of the suite's own: a primary and its streaming standby (private
// clusters, removed in `after` even when a test fails). Pools are given both hosts; the writable pool
// must reach whichever server is the primary, a write must never succeed on the wrong server, and every
// failure must be typed.
import { ConnectionLostError, PoolTimeoutError, createServiceContainer, type DisconnectEvent } from '@lifeguard/core'
import { startPrivateCluster, startStandby, type PrivateCluster, rejects } from '@lifeguard/test-kit'
import { loadavg } from 'node:os'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PostgresReadOnlyError, createPostgresHandle, createPostgresPool, registerPostgres, type PostgresPool, type PostgresPoolOptions, type TargetSessionAttrs } from '../src/index.js'
import { eventually, failuresByCause, startFailoverLoad } from './_helpers/failover-load.js'

const table = 'failover_writes'

interface Context {
  primary: PrivateCluster
  standby: PrivateCluster
}

const test = suite<Context>('failover between a primary and its streaming standby (private clusters)')

test.before(async (context) => {
  context.primary = await startPrivateCluster({ maxConnections: 40 })
  context.standby = await startStandby(context.primary)
  await context.primary.sql(`CREATE TABLE ${table} (id bigserial PRIMARY KEY, writer int NOT NULL)`)
  await eventually('the table to reach the standby', async () => (await context.standby.sql(`SELECT to_regclass('${table}') IS NOT NULL`)).trim() === 't')
})

test.after(async ({ primary, standby }) => {
  await standby?.destroy()
  await primary?.destroy()
})

let pools = 0
function bothHosts(first: PrivateCluster, second: PrivateCluster, target: TargetSessionAttrs, options: Partial<PostgresPoolOptions> = {}): { pool: PostgresPool; appName: string } {
  const appName = `failover-${++pools}`
  const pool = createPostgresPool({
    name: appName,
    hosts: [{ host: first.host, port: first.port }, { host: second.host, port: second.port }],
    user: 'postgres',
    database: 'postgres',
    applicationName: appName,
    targetSessionAttrs: target,
    ...options,
  })
  return { pool, appName }
}

async function serverPort(pool: PostgresPool): Promise<number> {
  const { rows } = await pool.query<{ port: number }>('SELECT inet_server_port() AS port')
  return rows[0]?.port ?? 0
}

/** Closes a pool and checks that no server keeps a connection of it. */
async function closeAndCheck(pool: PostgresPool, appName: string, ...clusters: PrivateCluster[]): Promise<void> {
  await pool.close({ timeoutMillis: 2000 })
  for (const cluster of clusters) {
    if (!(await cluster.isReady())) continue
    await eventually(`${appName} to leave ${cluster.port}`, async () => (await cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`)).trim() === '0', 5000)
  }
}

test('each target reaches the server that fits it, whatever the order of the hosts', async ({ primary, standby }) => {
  const cases: [PrivateCluster, PrivateCluster, TargetSessionAttrs, PrivateCluster][] = [
    [standby, primary, 'read-write', primary],
    [standby, primary, 'primary', primary],
    [primary, standby, 'read-only', standby],
    [primary, standby, 'standby', standby],
    [primary, standby, 'prefer-standby', standby],
    [standby, primary, 'any', standby],
  ]
  for (const [first, second, target, expected] of cases) {
    const { pool, appName } = bothHosts(first, second, target)
    assert.is(await serverPort(pool), expected.port, target)
    await closeAndCheck(pool, appName, primary, standby)
  }
})

test('a primary made read-only under writes: the write that reaches it fails typed, its connections are evicted, and no server fits until it is writable again', async ({ primary, standby }) => {
  const disconnects: DisconnectEvent[] = []
  const { pool, appName } = bothHosts(primary, standby, 'read-write', { maxSize: 4, acquireTimeoutMillis: 1500, events: { onDisconnect: (e) => void disconnects.push(e) } })
  await pool.warmup({ connections: 3 })
  const held = await pool.connect()
  let attempt = -1000
  try {
    await primary.sql('ALTER SYSTEM SET default_transaction_read_only = on')
    await primary.sql('SELECT pg_reload_conf()')
    // The server applies the reload in each session before its next statement: write until it has.
    // Each attempt writes its own value, so the refused one can be looked for afterwards.
    let refused: PostgresReadOnlyError | undefined
    await eventually('a write to be refused', async () => {
      attempt--
      refused = await pool.query(`INSERT INTO ${table} (writer) VALUES ($1)`, [attempt]).then(() => undefined, (error: unknown) => (error instanceof PostgresReadOnlyError ? error : Promise.reject(error)))
      return refused !== undefined
    })
    assert.is(refused?.code, 'ERR_POSTGRES_READ_ONLY')
    assert.is(refused?.server, `${primary.host}:${primary.port}`)
    assert.is(refused?.mayHaveCommitted, false)
    assert.match(refused?.message ?? '', `The server ${primary.host}:${primary.port} is read-only (25006)`)
    assert.is((refused?.cause as { code?: string }).code, '25006')
    // The idle connections to it went at once; the one held is closed when it comes back.
    await eventually('idle connections to be evicted', () => pool.idleCount === 0 && pool.totalCount === 1)
    held.release()
    await eventually('the held connection to be evicted', () => pool.totalCount === 0)
    await eventually('the three evictions to be reported', () => disconnects.filter((e) => e.reason === 'evicted').length === 3)
    // New connections are checked: neither server takes writes now.
    const timeout = await rejects(pool.query('SELECT 1'), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    assert.match((timeout.cause as Error).message, `No server fits targetSessionAttrs 'read-write': `)
    assert.match((timeout.cause as Error).message, `${primary.host}:${primary.port} is a primary in read-only mode (default_transaction_read_only)`)
    assert.match((timeout.cause as Error).message, `${standby.host}:${standby.port} is a standby (read-only)`)
  } finally {
    await primary.sql('ALTER SYSTEM RESET default_transaction_read_only')
    await primary.sql('SELECT pg_reload_conf()')
  }
  await eventually('writes to resume', () => pool.query(`INSERT INTO ${table} (writer) VALUES (-2)`).then(() => true, () => false))
  assert.is((await primary.sql(`SELECT count(*) FROM ${table} WHERE writer = ${attempt}`)).trim(), '0', 'the refused write did not happen')
  assert.is(pool.getPoolMetrics().errors > 0, true)
  await closeAndCheck(pool, appName, primary, standby)
})

test('a read-only transaction the caller asked for keeps its own error and evicts nothing', async ({ primary, standby }) => {
  const { pool, appName } = bothHosts(primary, standby, 'read-write', { maxSize: 2 })
  const handle = createPostgresHandle(pool)
  const error = await handle.transaction((tx) => tx.query(`INSERT INTO ${table} (writer) VALUES (-3)`), { readOnly: true }).then(() => undefined, (reason: unknown) => reason)
  assert.instance(error, pg.DatabaseError)
  assert.is((error as { code?: string }).code, '25006')
  assert.is(pool.idleCount, 1, 'the connection stayed')
  await handle.dispose()
  await closeAndCheck(pool, appName, primary, standby)
})

test('failover under load: the old primary stops, the standby is promoted, writes find the new primary; reads use the standby until then', async ({ primary, standby }) => {
  const writable = bothHosts(primary, standby, 'read-write', { maxSize: 6, acquireTimeoutMillis: 5000, connectTimeoutMillis: 1000 })
  const readable = bothHosts(primary, standby, 'prefer-standby', { maxSize: 3, acquireTimeoutMillis: 5000, connectTimeoutMillis: 1000 })
  const load = startFailoverLoad(table, registerPostgres(createServiceContainer(), writable.pool), 6, registerPostgres(createServiceContainer(), readable.pool), 2)
  const succeeded = (kind: 'write' | 'read', port: number, after = 0) => load.outcomes.some((o) => o.kind === kind && o.port === port && o.at > after)
  await eventually('writes and reads to run', () => load.outcomes.filter((o) => o.port !== undefined).length > 200)
  const load1 = loadavg()[0] as number
  const stopping = performance.now()
  await primary.stop('fast')
  const promoting = performance.now()
  await standby.promote()
  await eventually('a write on the new primary', () => succeeded('write', standby.port))
  const found = load.outcomes.find((o) => o.kind === 'write' && o.port === standby.port)?.at ?? Infinity
  const later = load.outcomes.length
  await eventually('the load to carry on', () => load.outcomes.slice(later).filter((o) => o.port === standby.port).length > 200)
  const outcomes = await load.stop()

  const before = outcomes.filter((o) => o.at < stopping && o.port !== undefined)
  assert.ok(before.filter((o) => o.kind === 'write').every((o) => o.port === primary.port), 'writes went to the primary')
  assert.ok(before.filter((o) => o.kind === 'read').every((o) => o.port === standby.port), 'reads went to the standby')
  assert.ok(outcomes.filter((o) => o.kind === 'write' && o.at > found).every((o) => o.port === undefined || o.port === standby.port), 'no write on the old primary after the new one was found')
  const untyped = outcomes.filter((o) => o.error !== undefined && !o.typed)
  assert.is(untyped.length, 0, `untyped errors: ${JSON.stringify(failuresByCause(untyped))}`)
  const known = new Set([ConnectionLostError.name, PoolTimeoutError.name, PostgresReadOnlyError.name])
  for (const o of outcomes) if (o.error !== undefined) assert.ok(known.has(o.error), `unexpected ${o.error}: ${o.cause}`)
  assert.ok(succeeded('read', standby.port, found), 'reads carried on (on the new primary, the only server left)')
  const seconds = (from: number) => ((found - from) / 1000).toFixed(2)
  process.stdout.write(
    `\n    failover: first write on the new primary ${seconds(stopping)} s after the old primary began stopping, ${seconds(promoting)} s after the promotion began (pg_ctl stop took ${((promoting - stopping) / 1000).toFixed(2)} s); load average ${load1.toFixed(2)}\n` +
      `    failures by cause: ${JSON.stringify(failuresByCause(outcomes))}\n`,
  )
  assert.ok(found - promoting < 10_000, `the pool found the new primary ${found - promoting} ms after the promotion began`)
  await closeAndCheck(writable.pool, writable.appName, standby)
  await closeAndCheck(readable.pool, readable.appName, standby)
})

test.run()
