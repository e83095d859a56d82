import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import pg from 'pg'

const exampleDir = fileURLToPath(new URL('../..', import.meta.url))

/** The machine's PostgreSQL, as the other packages' tests use it (PG* variables, then the defaults). */
export const localDatabaseUrl = (() => {
  const url = new URL('postgres://127.0.0.1:5432/test')
  url.hostname = process.env.PGHOST ?? '127.0.0.1'
  url.port = process.env.PGPORT ?? '5432'
  url.pathname = `/${process.env.PGDATABASE ?? 'test'}`
  url.username = process.env.PGUSER ?? 'postgres'
  if (process.env.PGPASSWORD) url.password = process.env.PGPASSWORD
  return url.toString()
})()

/** A unique lower-case suffix, for schema and application names of one test file. */
export function uniqueName(prefix: string): string {
  return `${prefix}_${process.pid}_${randomBytes(3).toString('hex')}`
}

/** The example running as a child process, exactly as `npm start` runs it. */
export interface ServiceProcess {
  readonly url: string
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Resolves when a line matching `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMillis: number): Promise<string>
  /** Sends `signal` and resolves with how the process ended. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Resolves with how the process ended, whenever it does. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
}

/**
 * Starts `entry` (default `src/main.ts`) with `PORT=0` and `env`, and resolves once it printed its
 * `listening on` line. Variables set to `undefined` in `env` are removed.
 *
 * @throws {Error} with the process output when it exits or does not listen within `timeoutMillis`
 */
export async function startService(env: Record<string, string | undefined>, options: { entry?: string; timeoutMillis?: number } = {}): Promise<ServiceProcess> {
  const { entry = 'src/main.ts', timeoutMillis = 30_000 } = options
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PORT: '0', HOST: '127.0.0.1' }
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) delete childEnv[key]
    else childEnv[key] = value
  }
  const child = spawn(process.execPath, ['--import', 'tsx', entry], { cwd: exampleDir, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const watchers = new Set<() => void>()
  const collect = (chunk: Buffer): void => {
    output += chunk.toString()
    for (const check of watchers) check()
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal })
      for (const check of watchers) check()
    })
  })

  const waitFor = (pattern: RegExp, waitMillis: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(output)
        if (match !== null) return done(() => resolve(match[1] ?? match[0]))
        if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`The service exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}. Output:\n${output}`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`The service did not print ${pattern} within ${waitMillis}ms. Output:\n${output}`))), waitMillis)
      const done = (settle: () => void): void => {
        clearTimeout(timer)
        watchers.delete(check)
        settle()
      }
      watchers.add(check)
      check()
    })

  let url: string
  try {
    url = await waitFor(/listening on (http:\/\/\S+)/, timeoutMillis)
    // The lines on how to try it follow; the banner ends with how to stop it.
    await waitFor(/stop with Ctrl-C/, 5_000)
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  return {
    url,
    child,
    output: () => output,
    waitFor,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}

/** Runs one query on the machine's PostgreSQL with a short-lived client of its own. */
export async function adminQuery<R extends pg.QueryResultRow = any>(text: string, values: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: localDatabaseUrl, application_name: 'orders-api-test-admin' })
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
