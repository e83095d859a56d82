import { fileURLToPath } from 'node:url'
import { pgConnectionString, watchProcess, type WatchedProcess, type WatchProcessOptions } from '@lifeguard/test-kit'
import pg from 'pg'

const exampleDir = fileURLToPath(new URL('../..', import.meta.url))
const repositoryRoot = fileURLToPath(new URL('../../../..', import.meta.url))

/** The machine's PostgreSQL, as the other packages' tests use it (PG* variables, then the defaults). */
export const localDatabaseUrl = pgConnectionString()

/** The example running as a child process, exactly as `npm start` runs it. */
export interface ServiceProcess extends WatchedProcess {
  readonly url: string
}

/**
 * Starts `entry` (default `src/main.ts`) with `PORT=0` and `env`, and resolves once it printed its
 * `listening on` line. Variables set to `undefined` in `env` are removed. With `npmStart`, it runs the
 * root README's command instead (`npm start` in the repository root; `'package'`: this package's own,
 * `npm start -w @lifeguard-examples/orders-api`), and `child` is the npm process. With `ownProcessGroup`,
 * `child` leads a process group (and session) of its own, as a command a terminal runs in the foreground:
 * `process.kill(-child.pid, 'SIGINT')` is then a Ctrl-C in that terminal.
 *
 * @throws {Error} with the process output when it exits or does not listen within `timeoutMillis` (default
 * 30 s; 120 s with `npmStart`, which builds the packages first)
 */
export async function startService(env: Record<string, string | undefined>, options: { entry?: string; timeoutMillis?: number; npmStart?: boolean | 'package'; ownProcessGroup?: boolean } = {}): Promise<ServiceProcess> {
  const { entry = 'src/main.ts', npmStart = false, ownProcessGroup = false } = options
  const timeoutMillis = options.timeoutMillis ?? (npmStart === false ? 30_000 : 120_000)
  const settings = { env: { PORT: '0', HOST: '127.0.0.1', ...env } }
  const start = (command: string, args: string[], how: WatchProcessOptions): WatchedProcess => watchProcess(command, args, { ...how, ownProcessGroup })
  const service =
    npmStart === 'package'
      ? start('npm', ['start', '-w', '@lifeguard-examples/orders-api'], { cwd: repositoryRoot, asFromShell: true, ...settings })
      : npmStart
        ? start('npm', ['start'], { cwd: repositoryRoot, asFromShell: true, ...settings })
        : start(process.execPath, ['--import', 'tsx', entry], { cwd: exampleDir, ...settings })
  try {
    const url = await service.waitFor(/listening on (http:\/\/\S+)/, timeoutMillis)
    // The lines on how to try it follow; the banner ends with how to stop it.
    await service.waitFor(/stop with Ctrl-C/, 5_000)
    return Object.assign(service, { url })
  } catch (error) {
    service.child.kill('SIGKILL')
    throw error
  }
}

/** Runs one query on the machine's PostgreSQL (or on `databaseUrl`) with a short-lived client of its own. */
export async function adminQuery<R extends pg.QueryResultRow = any>(text: string, values: unknown[] = [], databaseUrl = localDatabaseUrl): Promise<R[]> {
  const client = new pg.Client({ connectionString: databaseUrl, application_name: 'orders-api-test-admin' })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** Server-side connections whose `application_name` is `name`. */
export async function connectionCount(name: string): Promise<number> {
  const rows = await adminQuery<{ count: number }>('SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1', [name])
  return rows[0]?.count ?? 0
}

/** Polls `connectionCount(name)` until it is `expected` (backends end shortly after their client goes) or time runs out. */
export async function waitForConnectionCount(name: string, expected: number, timeoutMillis = 5_000): Promise<number> {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const count = await connectionCount(name)
    if (count === expected || Date.now() >= deadline) return count
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

/** How the process ended, or `'still running'` when it has not within `timeoutMillis`. */
export function exitWithin<T>(exited: Promise<T>, timeoutMillis: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMillis)))
  return Promise.race([exited, late]).finally(() => clearTimeout(timer))
}
