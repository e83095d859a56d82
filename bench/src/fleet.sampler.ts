// The fleet benchmark's view from the server: the fleet's connections as pg_stat_activity lists them
// (every 100 ms, over a connection of its own), the server's CPU time, and what the budget's count
// queries cost it (pg_stat_statements).
import { BUDGET_QUERY } from '@lifeguard/autoscale'
import pg from 'pg'
import { performance } from 'node:perf_hooks'
import { processCpuMillis, processTreeCpuMillis } from './lib/cpu-time.js'

/** One reading of the server's count. */
export interface ServerPoint {
  /** Wall-clock milliseconds. */
  at: number
  /** Connections with the fleet's application_name. */
  fleet: number
}

/** What the budget's count queries cost, from pg_stat_statements. */
export interface BudgetQueryCost {
  calls: number
  /** Planning plus execution time of the count queries, ms (wall time inside the server: an upper bound of their CPU). */
  millis: number
  /** Planning plus execution time of every statement, ms. */
  allMillis: number
}

const SAMPLE_MILLIS = 100
const wallNow = () => performance.timeOrigin + performance.now()

/**
 * Samples the fleet's server-side connection count every 100 ms between `start()` and `stop()`. Runs as a
 * superuser, so it takes one of the `superuser_reserved_connections` and never competes with the fleet
 * for the others.
 */
export class ServerSampler {
  readonly #client: pg.Client
  readonly #postmasterPid: number
  #timer: NodeJS.Timeout | undefined
  #series: ServerPoint[] = []
  #busy = false

  constructor(connection: pg.ClientConfig, postmasterPid: number) {
    this.#client = new pg.Client({ ...connection, application_name: 'fleet-sampler' })
    this.#postmasterPid = postmasterPid
  }

  async connect(): Promise<void> {
    await this.#client.connect()
  }

  /** `SHOW name` as a number. */
  async setting(name: string): Promise<number> {
    const result = await this.#client.query<{ setting: string }>('SELECT setting FROM pg_settings WHERE name = $1', [name])
    return Number(result.rows[0]?.setting)
  }

  /** Connections with `applicationName` now. */
  async count(applicationName: string): Promise<number> {
    const result = await this.#client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    return result.rows[0]?.n ?? 0
  }

  /** Polls until the fleet holds no connection (between runs). */
  async drained(applicationName: string, timeoutMillis = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMillis
    let held = await this.count(applicationName)
    while (held > 0) {
      if (Date.now() > deadline) throw new Error(`Could not drain the fleet. ${held} connections of '${applicationName}' still open after ${timeoutMillis}ms.`)
      await new Promise((resolve) => setTimeout(resolve, 100))
      held = await this.count(applicationName)
    }
  }

  start(applicationName: string): void {
    this.#series = []
    this.#timer = setInterval(() => {
      // A slow reading on a busy machine is skipped rather than queued.
      if (this.#busy) return
      this.#busy = true
      const at = wallNow()
      this.count(applicationName).then(
        (fleet) => this.#series.push({ at, fleet }),
        () => undefined,
      ).finally(() => {
        this.#busy = false
      })
    }, SAMPLE_MILLIS)
  }

  stop(): ServerPoint[] {
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    return this.#series
  }

  /** The PostgreSQL server's CPU time so far (postmaster and every backend), ms. */
  serverCpuMillis(): number {
    return processTreeCpuMillis(this.#postmasterPid)
  }

  async resetStatements(): Promise<void> {
    await this.#client.query('SELECT pg_stat_statements_reset()')
  }

  async budgetQueryCost(): Promise<BudgetQueryCost> {
    // pg_stat_statements shows the count with its constants replaced by parameters: match it by shape.
    const shape = BUDGET_QUERY.replace(/\(NULL\)/, '(%)').replace(/\$1/, '%')
    const result = await this.#client.query<{ calls: string | null; millis: number | null; all_millis: number | null }>(
      `SELECT sum(calls) FILTER (WHERE query LIKE $1) AS calls,
              sum(total_exec_time + total_plan_time) FILTER (WHERE query LIKE $1) AS millis,
              sum(total_exec_time + total_plan_time) AS all_millis
         FROM pg_stat_statements`,
      [shape],
    )
    const row = result.rows[0]
    return { calls: Number(row?.calls ?? 0), millis: row?.millis ?? 0, allMillis: row?.all_millis ?? 0 }
  }

  async end(): Promise<void> {
    this.stop()
    await this.#client.end()
  }
}

/**
 * Server CPU per budget count query, measured directly: one connection as the fleet's role runs the
 * count `reads` times back to back, and its backend's CPU time (from /proc) is divided by `reads`.
 * pg_stat_activity is read from shared memory sized by `max_connections`, so the figure holds for any
 * number of connections actually open.
 */
export async function cpuPerBudgetRead(connection: pg.ClientConfig, applicationName: string, reads: number): Promise<number> {
  const client = new pg.Client({ ...connection, application_name: `${applicationName}-probe` })
  await client.connect()
  try {
    const pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid as number
    await client.query(BUDGET_QUERY, [applicationName])
    const before = processCpuMillis(pid)
    for (let i = 0; i < reads; i++) await client.query(BUDGET_QUERY, [applicationName])
    return (processCpuMillis(pid) - before) / reads
  } finally {
    await client.end()
  }
}
