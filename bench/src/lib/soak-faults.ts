// The soak's faults, on the service's private PostgreSQL cluster: every backend of the service
// terminated, the server restarted, a burst of client aborts. After each, the bench waits (bounded) for
// the service to recover: serving again, and the server's connection count for its application_name
// agreeing with the pool's own count, at least as high as the pool's floor.
import { setTimeout as sleep } from 'node:timers/promises'
import type { PrivateCluster } from '@lifeguard/test-kit'
import pg from 'pg'
import type { MixedLoad } from './soak-load.js'
import type { PoolCounts, SoakService } from './soak-service.js'

/** The faults, in the order the soak cycles through them. */
export const FAULT_CYCLE = ['terminate', 'restart', 'aborts'] as const

/** One kind of fault. */
export type FaultKind = (typeof FAULT_CYCLE)[number]

/** What one fault did and how the service came back. */
export interface FaultResult {
  kind: FaultKind
  /** When it started, in ms since the load began. */
  atMillis: number
  /** What was done, e.g. `terminated 10 backends`. */
  detail: string
  /** The server's connection count for the service just before the fault. */
  before: number | undefined
  /** The server's and the pool's counts once recovered (or at the deadline). */
  after: number | undefined
  poolAfter: number | undefined
  /** From the end of the fault to recovery; `undefined` when it did not recover in time. */
  recoveryMillis: number | undefined
  /** When not recovered: what was still missing at the deadline. */
  missing: string | undefined
}

/** Everything a fault needs. */
export interface FaultContext {
  cluster: PrivateCluster
  applicationName: string
  service: SoakService
  load: MixedLoad
  /** The bound on recovery. */
  recoveryMillis: number
  abortBurst: { count: number; spreadMillis: number }
  /** `performance.now()` when the load began. */
  startedAt: number
}

const POLL_MILLIS = 250

/** Runs `sql` on the cluster over a short-lived connection of its own (a restart ends any other). */
async function adminQuery<R extends pg.QueryResultRow>(cluster: PrivateCluster, sql: string, values: unknown[]): Promise<R[]> {
  const client = new pg.Client({ ...cluster.connection, application_name: 'lifeguard-soak-admin', connectionTimeoutMillis: 2_000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return (await client.query<R>(sql, values)).rows
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** The server's count of connections with this application_name, or `undefined` when it is unreachable. */
export async function serverConnectionCount(cluster: PrivateCluster, applicationName: string): Promise<number | undefined> {
  try {
    const rows = await adminQuery<{ n: number }>(cluster, 'SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    return rows[0]?.n
  } catch {
    return undefined
  }
}

/** Injects one fault and waits, at most `context.recoveryMillis`, for the service to recover. */
export async function injectFault(kind: FaultKind, context: FaultContext): Promise<FaultResult> {
  const { cluster, applicationName, load } = context
  const started = performance.now()
  const before = await serverConnectionCount(cluster, applicationName)
  let detail: string
  if (kind === 'terminate') {
    const rows = await adminQuery<{ n: number }>(cluster, 'SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    detail = `terminated ${rows[0]?.n ?? 0} backend(s)`
  } else if (kind === 'restart') {
    const restartStarted = performance.now()
    await cluster.restart('fast')
    detail = `pg_ctl restart -m fast took ${seconds(performance.now() - restartStarted)}`
  } else {
    const { count, spreadMillis } = context.abortBurst
    const burst = await load.abortBurst(count, spreadMillis)
    detail = `${count} request(s) over ${spreadMillis}ms: ${burst.aborted} aborted, ${burst.answered} answered first`
  }
  const recovery = await awaitRecovery(context, performance.now(), before)
  return { kind, atMillis: started - context.startedAt, detail, before, ...recovery }
}

async function awaitRecovery(
  context: FaultContext,
  faultEnd: number,
  before: number | undefined,
): Promise<Pick<FaultResult, 'after' | 'poolAfter' | 'recoveryMillis' | 'missing'>> {
  const deadline = faultEnd + context.recoveryMillis
  for (;;) {
    const state = await connectionState(context)
    const pool = state.pool
    let missing: string | undefined
    if (context.load.lastDbSuccessStart < faultEnd) missing = 'no request sent after the fault has reached the database yet'
    else if (!state.consistent) missing = `server count ${state.server ?? 'unreachable'}, pool count ${pool?.totalConnections ?? 'unknown'}`
    else if (pool !== undefined && (state.server ?? 0) < Math.min(before ?? 0, pool.minSize)) missing = `server count ${state.server} below the pool's floor (minSize ${pool.minSize})`
    const now = performance.now()
    if (missing === undefined || now >= deadline) {
      return { after: state.server, poolAfter: pool?.totalConnections, recoveryMillis: missing === undefined ? now - faultEnd : undefined, missing }
    }
    await sleep(POLL_MILLIS)
  }
}

/** The server's count between two reads of the pool's: consistent when all three agree. */
export async function connectionState(context: Pick<FaultContext, 'cluster' | 'applicationName' | 'service'>): Promise<{ server: number | undefined; pool: PoolCounts | undefined; consistent: boolean }> {
  const first = await context.service.poolCounts()
  const server = await serverConnectionCount(context.cluster, context.applicationName)
  const pool = await context.service.poolCounts()
  const consistent = server !== undefined && first?.totalConnections === server && pool?.totalConnections === server
  return { server, pool, consistent }
}

/**
 * After the load stopped: waits for the pool to have nothing checked out or waiting and the server's
 * count to agree with it. `ok` false after `timeoutMillis` (a leaked checkout, a connection the pool lost track of).
 */
export async function awaitQuiet(
  context: Pick<FaultContext, 'cluster' | 'applicationName' | 'service'>,
  timeoutMillis: number,
): Promise<{ ok: boolean; server: number | undefined; pool: PoolCounts | undefined }> {
  const deadline = performance.now() + timeoutMillis
  for (;;) {
    const state = await connectionState(context)
    const ok = state.consistent && state.pool?.activeConnections === 0 && state.pool.waitingRequests === 0
    if (ok || performance.now() >= deadline) return { ok, server: state.server, pool: state.pool }
    await sleep(POLL_MILLIS)
  }
}

/** Polls the server's count for `applicationName` until it is 0 or `timeoutMillis` passed; returns the last count. */
export async function awaitNoConnections(cluster: PrivateCluster, applicationName: string, timeoutMillis: number): Promise<number | undefined> {
  const deadline = performance.now() + timeoutMillis
  for (;;) {
    const count = await serverConnectionCount(cluster, applicationName)
    if (count === 0 || performance.now() >= deadline) return count
    await sleep(POLL_MILLIS)
  }
}

function seconds(millis: number): string {
  return `${(millis / 1000).toFixed(2)} s`
}
