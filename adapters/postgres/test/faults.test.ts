// Faults on a real server of the suite's own (a private cluster, never the shared one): restarts,
// terminated backends and an outage, under steady load. Every operation must end with a result or a
// typed Lifeguard error, no connection already dead may be handed out, the pool must never hold more
// than maxSize server connections, and it must recover once the server accepts connections again.
import { ConnectionLostError, createServiceContainer } from '@lifeguard/core'
import { startPrivateCluster, type PrivateCluster } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresPool, registerPostgres, type PostgresPool } from '../src/index.js'
import { byCause, sampleServerConnections, startFaultLoad, type LoadSummary } from './_helpers/fault-load.js'
import { until } from './_helpers/pools.js'

const MAX_SIZE = 8
const CONCURRENCY = 20
const ACQUIRE_TIMEOUT = 3000
// The most an operation may take: its wait for a connection, plus the server's own shutdown and a query.
const OPERATION_BUDGET = ACQUIRE_TIMEOUT + 2000

const test = suite<{ cluster: PrivateCluster }>('PostgresPool under server faults (private cluster)')

test.before(async (context) => {
  context.cluster = await startPrivateCluster({ maxConnections: 40 })
})

test.after(async ({ cluster }) => {
  await cluster?.destroy()
})

let poolCount = 0
function faultPool(cluster: PrivateCluster): { pool: PostgresPool; appName: string } {
  const appName = `faults-${++poolCount}`
  const pool = createPostgresPool({ name: appName, ...cluster.connection, applicationName: appName, maxSize: MAX_SIZE, acquireTimeoutMillis: ACQUIRE_TIMEOUT, connectTimeoutMillis: 1000 })
  return { pool, appName }
}

/** Waits (a few seconds at most) for the server to show no connection of the pool: the backends exit just after the sockets close. */
async function noneLeft(cluster: PrivateCluster, appName: string): Promise<void> {
  let count = -1
  for (let i = 0; i < 100 && count !== 0; i++) {
    count = Number(await cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}'`))
    if (count !== 0) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.is(count, 0, `connections of ${appName} left on the server`)
}

/** The guarantees every fault must leave intact. */
function assertHeld(summary: LoadSummary, peak: number, what: string): void {
  const causes = byCause(summary.failures)
  assert.ok(summary.ok > 0, `${what}: some operations succeeded`)
  const untyped = summary.failures.filter((failure) => !failure.typed)
  assert.is(untyped.length, 0, `${what}: untyped errors reached callers: ${JSON.stringify(causes)}`)
  const handedDead = summary.failures.filter((failure) => /not queryable/.test(failure.cause ?? ''))
  assert.is(handedDead.length, 0, `${what}: a dead connection was handed out: ${JSON.stringify(causes)}`)
  assert.ok(summary.slowestMillis < OPERATION_BUDGET, `${what}: an operation took ${summary.slowestMillis.toFixed(0)}ms`)
  assert.ok(peak <= MAX_SIZE, `${what}: the server saw ${peak} connections of the pool (maxSize ${MAX_SIZE})`)
  const known = new Set(['ConnectionLostError', 'PoolTimeoutError'])
  for (const failure of summary.failures) assert.ok(known.has(failure.name), `${what}: unexpected ${failure.name}: ${failure.cause}`)
  process.stdout.write(`\n    ${what}: ${summary.ok} ok, failures by cause ${JSON.stringify(causes)}, peak ${peak} server connections\n`)
}

async function underLoad(cluster: PrivateCluster, fault: (pool: PostgresPool, appName: string) => Promise<number | void>): Promise<{ summary: LoadSummary; peak: number; recoveryMillis: number | void; pool: PostgresPool; appName: string }> {
  const { pool, appName } = faultPool(cluster)
  const container = registerPostgres(createServiceContainer(), pool)
  await pool.warmup({ connections: MAX_SIZE })
  const sampler = sampleServerConnections(cluster.connection, appName)
  const load = startFaultLoad(container, CONCURRENCY)
  await until('load to run', () => pool.getPoolMetrics().useTime.count > 200, 10_000)
  const recoveryMillis = await fault(pool, appName)
  // Keep the load on after the fault until the pool is plainly back.
  const after = pool.getPoolMetrics().useTime.count
  await until('load to run again', () => pool.getPoolMetrics().useTime.count > after + 200, 10_000)
  const summary = await load.stop()
  const peak = await sampler.stop()
  return { summary, peak, recoveryMillis, pool, appName }
}

/** Milliseconds from `since` to the first operation that succeeded after it. */
function firstSuccessAfter(summary: LoadSummary, since: number): number {
  const next = summary.successes.find((at) => at > since)
  return next === undefined ? Infinity : next - since
}

/** Waits until `count` backends of the pool are running a query that contains `marker`. */
async function running(cluster: PrivateCluster, appName: string, marker: string, count: number): Promise<void> {
  let seen = -1
  for (let i = 0; i < 200 && seen !== count; i++) {
    seen = Number(await cluster.sql(`SELECT count(*) FROM pg_stat_activity WHERE application_name = '${appName}' AND state = 'active' AND query LIKE '%${marker}%'`))
    if (seen !== count) await new Promise((resolve) => setTimeout(resolve, 25))
  }
  assert.is(seen, count, `backends running ${marker}`)
}

test('a fast restart under load: every failure typed, no dead connection handed out, recovered', async ({ cluster }) => {
  let accepting = 0
  let inFlight: Promise<unknown>[] = []
  const { summary, peak, pool, appName } = await underLoad(cluster, async (pool, appName) => {
    // The load's queries last 2 ms, so none may be running at the instant of the restart: these two are.
    inFlight = [1, 2].map((n) => pool.query(`SELECT ${n} AS in_flight, pg_sleep(30)`).then(() => undefined, (error: unknown) => error))
    await running(cluster, appName, 'in_flight', 2)
    await cluster.restart('fast')
    accepting = performance.now()
  })
  assertHeld(summary, peak, 'restart -m fast')
  for (const outcome of await Promise.all(inFlight)) {
    assert.instance(outcome, ConnectionLostError, 'the restart cut the queries in flight')
    assert.match(String((outcome as Error).cause), /terminating connection due to administrator command|Connection terminated|ECONNRESET|EPIPE/)
  }
  const lost = summary.failures.filter((failure) => failure.name === 'ConnectionLostError')
  assert.ok(lost.every((failure) => /terminating connection due to administrator command|Connection terminated|ECONNRESET|EPIPE/.test(failure.cause ?? '')), JSON.stringify(byCause(lost)))
  const recovery = firstSuccessAfter(summary, accepting)
  process.stdout.write(`    recovered ${recovery.toFixed(0)}ms after the server accepted connections\n`)
  assert.ok(recovery < 5000, `recovered after ${recovery}ms`)
  const metrics = pool.getPoolMetrics()
  assert.ok(metrics.errors > 0, 'metrics show the outage')
  assert.type(metrics.lastError, 'string')
  await pool.close()
  await noneLeft(cluster, appName)
})

test('pg_terminate_backend on idle and on busy backends: the pool replaces them and no caller sees an untyped error', async ({ cluster }) => {
  const { summary, peak, pool, appName } = await underLoad(cluster, async (_pool, appName) => {
    for (const state of ['idle', 'active', 'idle', 'active']) {
      await cluster.sql(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '${appName}' AND state = '${state}'`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  })
  assertHeld(summary, peak, 'pg_terminate_backend')
  const metrics = pool.getPoolMetrics()
  assert.ok(metrics.errors > 0)
  // The last error is whichever connection went last: the server's notice, or (a backend killed while the
  // client wrote to it) the socket's reset, as in the restart above.
  assert.match(metrics.lastError ?? '', /terminating connection|Connection terminated|ECONNRESET|EPIPE/, `lastError: ${metrics.lastError}`)
  await pool.close()
  await noneLeft(cluster, appName)
})

test('the server down for 3 s: waiters time out with the connect error as cause, the pool comes back', async ({ cluster }) => {
  let accepting = 0
  const { summary, peak, pool, appName } = await underLoad(cluster, async () => {
    await cluster.stop('fast')
    await new Promise((resolve) => setTimeout(resolve, 3000))
    await cluster.start()
    accepting = performance.now()
  })
  assertHeld(summary, peak, 'stopped for 3 s')
  const timeouts = summary.failures.filter((failure) => failure.name === 'PoolTimeoutError')
  assert.ok(timeouts.every((failure) => failure.cause === undefined || /ECONNREFUSED|shutting down|starting up|Connection terminated|timed out/.test(failure.cause)), JSON.stringify(byCause(timeouts)))
  const recovery = firstSuccessAfter(summary, accepting)
  process.stdout.write(`    recovered ${recovery.toFixed(0)}ms after the server accepted connections\n`)
  assert.ok(recovery < 5000, `recovered after ${recovery}ms`)
  await pool.close()
  await noneLeft(cluster, appName)
})

test('a crash (SIGKILL of the server): connections in use fail typed, idle ones are never handed out', async ({ cluster }) => {
  const { summary, peak, pool, appName } = await underLoad(cluster, async () => {
    await cluster.kill()
    await cluster.start()
  })
  assertHeld(summary, peak, 'crash and restart')
  await pool.close()
  await noneLeft(cluster, appName)
})

test('the drop-in Pool through a restart: no dead client handed out either', async ({ cluster }) => {
  const { Pool } = await import('../src/index.js')
  const pool = new Pool({ ...cluster.connection, application_name: 'faults-drop-in', max: 4 })
  await pool.query('SELECT 1')
  const results = Promise.allSettled(Array.from({ length: 200 }, (_, i) => new Promise((resolve) => setTimeout(resolve, i * 5)).then(() => pool.query('SELECT 1'))))
  await new Promise((resolve) => setTimeout(resolve, 300))
  await cluster.restart('fast')
  const outcomes = await results
  const messages = outcomes.flatMap((outcome) => (outcome.status === 'rejected' ? [`${(outcome.reason as Error).message} ${String((outcome.reason as Error).cause ?? '')}`] : []))
  assert.not.ok(messages.some((message) => /not queryable/.test(message)), messages.join('\n'))
  assert.ok(outcomes.filter((outcome) => outcome.status === 'fulfilled').length > 100)
  await pool.end()
  await noneLeft(cluster, 'faults-drop-in')
})

test.run()
