import { pgConnectionString } from '@lifeguard/test-kit'
import pg from 'pg'

/** The machine's PostgreSQL (PG* variables, then the defaults every package's tests use). */
export const databaseUrl = pgConnectionString()

/** Runs one query with a short-lived client of its own. */
export async function adminQuery<R extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'job-worker-test-admin' })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** Polls the server-side connection count of `applicationName` until it is `expected` or time runs out. */
export async function waitForConnectionCount(applicationName: string, expected: number, timeoutMillis = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const rows = await adminQuery<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [applicationName])
    const count = rows[0]?.count ?? 0
    if (count === expected || Date.now() >= deadline) return count
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
