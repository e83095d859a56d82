// The test PostgreSQL server: connection settings from the PG* variables, and server-side counts of
// a test's own connections (pg_stat_activity filtered by application_name).
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'

/** Connection settings: PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSWORD with the machine's defaults. */
export function pgConfig(): { host: string; port: number; user: string; database: string; password?: string } {
  const env = process.env
  return {
    host: env['PGHOST'] || '127.0.0.1',
    port: Number(env['PGPORT'] || 5432),
    user: env['PGUSER'] || 'postgres',
    database: env['PGDATABASE'] || 'test',
    ...(env['PGPASSWORD'] ? { password: env['PGPASSWORD'] } : {}),
  }
}

/** An application_name no other test uses (PostgreSQL keeps 63 bytes of it). */
export function uniqueAppName(prefix: string): string {
  return `${prefix}-${process.pid.toString(36)}-${randomBytes(3).toString('hex')}`.slice(0, 63)
}

async function observe<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...pgConfig(), application_name: 'lifeguard-otel-test-observer' })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Backends the server holds for this application_name. */
export function serverConnections(appName: string): Promise<number> {
  return observe(async (client) => {
    const result = await client.query<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [appName])
    return result.rows[0]?.count ?? 0
  })
}

/** Polls until the server holds `expected` backends for this application_name; throws after `timeoutMillis`. */
export async function waitForServerConnections(appName: string, expected: number, timeoutMillis = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const count = await serverConnections(appName)
    if (count === expected) return
    if (Date.now() > deadline) throw new Error(`Expected ${expected} server connections for '${appName}', still ${count} after ${timeoutMillis}ms.`)
    await sleep(25)
  }
}

/** Terminates this application_name's backends in `state` (as an administrator or a restart would). */
export function terminateBackends(appName: string, state: 'idle' | 'active'): Promise<number> {
  return observe(async (client) => {
    const result = await client.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1 AND state = $2', [appName, state])
    return result.rowCount ?? 0
  })
}
