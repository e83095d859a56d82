// Steady load for fault tests: C workers run short operations back to back (a one-query checkout or a
// two-statement transaction through `context.postgres`), each in its own operation, and every outcome
// is recorded by cause, so a test can prove that nothing untyped reached a caller and that no dead
// connection was handed out.
import { LifeguardError, runOperation, type ServiceContainer } from '@lifeguard/core'
import pg from 'pg'
import type { PostgresHandle } from '../../src/index.js'

/** How one failed operation failed. */
export interface Failure {
  /** The error's class, e.g. `ConnectionLostError`. */
  readonly name: string
  readonly code: string | undefined
  /** The first cause's message (the server's or the socket's). */
  readonly cause: string | undefined
  /** True when the error is one of Lifeguard's typed errors. */
  readonly typed: boolean
  readonly millis: number
}

/** What a run of load did. */
export interface LoadSummary {
  readonly ok: number
  readonly failures: Failure[]
  /** Wall-clock end of each successful operation (performance.now()). */
  readonly successes: number[]
  /** The longest an operation took, success or failure (ms). */
  readonly slowestMillis: number
}

/** A running load; `stop()` lets every worker finish its current operation. */
export interface FaultLoad {
  stop(): Promise<LoadSummary>
}

/**
 * Starts `concurrency` workers on the container's `postgres` handle. Half the operations are a single
 * query, half a transaction of two statements.
 */
export function startFaultLoad(container: ServiceContainer<{ postgres: PostgresHandle }>, concurrency: number): FaultLoad {
  let running = true
  let ok = 0
  let slowestMillis = 0
  const failures: Failure[] = []
  const successes: number[] = []
  const worker = async (id: number) => {
    for (let n = 0; running; n++) {
      const started = performance.now()
      try {
        await runOperation('faults', n % 2 === 0 ? 'query' : 'transaction', async (context) => {
          if (n % 2 === 0) await context.postgres.query('SELECT $1::int AS n, pg_sleep(0.002)', [id])
          else await context.postgres.transaction(async (tx) => {
            await tx.query('SELECT pg_sleep(0.001)')
            await tx.query('SELECT $1::int AS n', [n])
          })
        }, { container })
        ok++
        successes.push(performance.now())
      } catch (error) {
        failures.push(describe(error, performance.now() - started))
        // A failing server answers at once: do not spin.
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      slowestMillis = Math.max(slowestMillis, performance.now() - started)
    }
  }
  const workers = Array.from({ length: concurrency }, (_, id) => worker(id))
  return {
    async stop() {
      running = false
      await Promise.all(workers)
      return { ok, failures, successes, slowestMillis }
    },
  }
}

function describe(error: unknown, millis: number): Failure {
  const typed = error instanceof LifeguardError
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : undefined
  return {
    name: error instanceof Error ? error.constructor.name : typeof error,
    code: (error as { code?: string }).code,
    cause,
    typed,
    millis,
  }
}

/** Counts failures by `name: cause`, for a readable assertion message. */
export function byCause(failures: readonly Failure[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const failure of failures) {
    const key = `${failure.name}: ${failure.cause ?? '-'}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** Samples the server's connection count for an application_name every `everyMillis`; `stop()` gives the peak. */
export function sampleServerConnections(connection: pg.ClientConfig, appName: string, everyMillis = 25): { stop(): Promise<number> } {
  let peak = 0
  let running = true
  const loop = (async () => {
    while (running) {
      const client = new pg.Client({ ...connection, application_name: 'lifeguard-test-observer' })
      client.on('error', () => undefined)
      try {
        await client.connect()
        while (running) {
          const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name = $1', [appName])
          peak = Math.max(peak, rows[0]?.n ?? 0)
          await new Promise((resolve) => setTimeout(resolve, everyMillis))
        }
      } catch {
        // The server is down: try again shortly.
        await new Promise((resolve) => setTimeout(resolve, everyMillis))
      } finally {
        await client.end().catch(() => undefined)
      }
    }
  })()
  return {
    async stop() {
      running = false
      await loop
      return peak
    },
  }
}
