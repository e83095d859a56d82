// Load for failover tests: writers insert through a pool that wants the writable server, readers read
// through a second pool; every outcome is kept with the port of the server that answered, so a test
// can tell which server took each write and when the pool found the new primary.
import { LifeguardError, runOperation, type ServiceContainer } from '@lifeguard/core'
import type { PostgresHandle } from '../../src/index.js'

/** One finished operation. */
export interface Outcome {
  readonly kind: 'write' | 'read'
  /** `performance.now()` when it started. */
  readonly started: number
  /** `performance.now()` when it finished. */
  readonly at: number
  /** The port of the server that answered (successes only). */
  readonly port?: number
  /** The error's class, for failures. */
  readonly error?: string
  /** True when the error is one of Lifeguard's typed errors. */
  readonly typed?: boolean
  /** The cause's message, for failures. */
  readonly cause?: string
}

/** A running load; `stop()` lets each worker finish its operation and returns every outcome. */
export interface FailoverLoad {
  readonly outcomes: readonly Outcome[]
  stop(): Promise<Outcome[]>
}

type Handles = ServiceContainer<{ postgres: PostgresHandle }>

/**
 * Starts `writers` workers inserting into `table` through `writes` (a one-statement insert or a
 * two-statement transaction, alternately) and `readers` workers reading through `reads`, if given.
 */
export function startFailoverLoad(table: string, writes: Handles, writers: number, reads?: Handles, readers = 0): FailoverLoad {
  let running = true
  const outcomes: Outcome[] = []
  const record = async (kind: Outcome['kind'], work: () => Promise<number>) => {
    const started = performance.now()
    try {
      const port = await work()
      outcomes.push({ kind, started, at: performance.now(), port })
    } catch (error) {
      const failure = error as Error
      const cause = failure.cause instanceof Error ? failure.cause.message : undefined
      outcomes.push({ kind, started, at: performance.now(), error: failure.constructor.name, typed: error instanceof LifeguardError, ...(cause === undefined ? {} : { cause }) })
      // A failing server answers at once: do not spin.
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }
  const writer = async (id: number) => {
    for (let n = 0; running; n++) {
      await record('write', () =>
        runOperation('failover', 'write', async (context) => {
          if (n % 2 === 0) {
            const { rows } = await context.postgres.query<{ port: number }>(`INSERT INTO ${table} (writer) VALUES ($1) RETURNING inet_server_port() AS port`, [id])
            return rows[0]?.port ?? 0
          }
          return context.postgres.transaction(async (tx) => {
            await tx.query(`INSERT INTO ${table} (writer) VALUES ($1)`, [id])
            const { rows } = await tx.query<{ port: number }>('SELECT inet_server_port() AS port')
            return rows[0]?.port ?? 0
          })
        }, { container: writes }),
      )
    }
  }
  const reader = async () => {
    while (running) {
      await record('read', () =>
        runOperation('failover', 'read', async (context) => {
          const { rows } = await context.postgres.query<{ port: number }>(`SELECT inet_server_port() AS port, count(*) FROM ${table}`)
          return rows[0]?.port ?? 0
        }, { container: reads as Handles }),
      )
    }
  }
  const workers = [...Array.from({ length: writers }, (_, id) => writer(id)), ...Array.from({ length: reads === undefined ? 0 : readers }, () => reader())]
  return {
    outcomes,
    async stop() {
      running = false
      await Promise.all(workers)
      return outcomes
    },
  }
}

/** Counts failures by `class: cause`, for readable assertion messages. */
export function failuresByCause(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const outcome of outcomes) {
    if (outcome.error === undefined) continue
    const key = `${outcome.kind} ${outcome.error}: ${outcome.cause ?? '-'}`
    counts[key] = (counts[key] ?? 0) + 1
  }
  return counts
}

/** Resolves once `check` holds (polling every 20 ms), or rejects after `timeoutMillis` naming `what`. */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMillis = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}.`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
