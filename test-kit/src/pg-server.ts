// Test support for a real PostgreSQL server: connection settings, server-side connection counts per
// application_name, dropped connections, and sockets that never answer or refuse.
import { randomBytes } from 'node:crypto'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import pg from 'pg'

/** Connection settings for the test server, read from the PG* environment variables. */
export interface PgConfig {
  host: string
  port: number
  user: string
  database: string
  password?: string
}

/** A listener on 127.0.0.1 that accepts connections and never answers. */
export interface BlackholeServer {
  readonly host: string
  readonly port: number
  /** How many connections it has accepted so far. */
  connections(): number
  /** Destroys every accepted socket and stops listening. Idempotent. */
  close(): Promise<void>
}

/** Options for {@link terminateBackends}. */
export interface TerminateBackendsOptions {
  /** Only terminate backends in this `pg_stat_activity.state`; all states when absent. */
  state?: 'idle' | 'active'
}

// The observer's own connection must never show up in the counts it takes.
const OBSERVER_APP_NAME = 'lifeguard-test-observer'
// PostgreSQL silently truncates application_name to NAMEDATALEN - 1 bytes.
const MAX_APP_NAME_LENGTH = 63

let appNameCounter = 0

/**
 * Connection settings for the test server: PGHOST, PGPORT, PGUSER, PGDATABASE and PGPASSWORD, with
 * defaults 127.0.0.1, 5432, postgres, test and no password.
 *
 * @example
 * const client = new pg.Client({ ...pgConfig(), application_name: uniqueAppName('query') })
 */
export function pgConfig(): PgConfig {
  const env = process.env
  const config: PgConfig = {
    host: env['PGHOST'] || '127.0.0.1',
    port: Number(env['PGPORT'] || 5432),
    user: env['PGUSER'] || 'postgres',
    database: env['PGDATABASE'] || 'test',
  }
  const password = env['PGPASSWORD']
  if (password) config.password = password
  return config
}

/**
 * `pgConfig()` as a connection string, for code that takes a URL (a service's `DATABASE_URL`). A `PGHOST`
 * that is a socket directory goes in the `host` query parameter, which pg reads in place of the URL's host
 * (`localhost` there only fills the place a URL check wants filled).
 */
export function pgConnectionString(): string {
  const config = pgConfig()
  const url = new URL(`postgres://127.0.0.1:${config.port}/`)
  if (config.host.startsWith('/')) {
    url.hostname = 'localhost'
    url.searchParams.set('host', config.host)
  } else url.hostname = config.host
  url.pathname = `/${config.database}`
  url.username = config.user
  if (config.password !== undefined) url.password = config.password
  return url.toString()
}

/**
 * An application_name no other test or process uses, so server-side connection counts can be
 * filtered to one test. Kept within the 63 bytes PostgreSQL stores.
 *
 * @param prefix printable ASCII, e.g. the test file's topic
 * @example
 * const appName = uniqueAppName('pool-resize') // 'pool-resize-1a2b-3-9f8e7d'
 */
export function uniqueAppName(prefix: string): string {
  if (!/^[\x20-\x7e]+$/.test(prefix)) {
    throw new TypeError(`Expected \`prefix\` to be non-empty printable ASCII, got \`${prefix}\``)
  }
  appNameCounter += 1
  const suffix = `-${process.pid.toString(36)}-${appNameCounter.toString(36)}-${randomBytes(3).toString('hex')}`
  return prefix.slice(0, MAX_APP_NAME_LENGTH - suffix.length) + suffix
}

async function withObserver<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...pgConfig(), application_name: OBSERVER_APP_NAME })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/**
 * How many server backends currently carry this application_name (rows in `pg_stat_activity`).
 *
 * @example
 * assert.is(await serverConnectionCount(appName), 0)
 */
/** Sessions of `appName` running a statement that contains `fragment` (e.g. `pg_sleep`) right now. */
export async function runningStatementCount(appName: string, fragment: string): Promise<number> {
  return withObserver(async (client) => {
    const result = await client.query<{ count: number }>(
      "SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1 AND state = 'active' AND strpos(query, $2) > 0",
      [appName, fragment],
    )
    return result.rows[0]?.count ?? 0
  })
}

export async function serverConnectionCount(appName: string): Promise<number> {
  return withObserver(async (client) => {
    const result = await client.query<{ count: number }>(
      'SELECT count(*)::int AS count FROM pg_stat_activity WHERE application_name = $1',
      [appName],
    )
    return result.rows[0]?.count ?? 0
  })
}

/**
 * Polls until the server holds exactly `expected` backends for this application_name.
 *
 * @throws {Error} when the count still differs after `timeoutMillis`; the message names both counts
 * @example
 * await waitForConnectionCount(appName, 0) // everything the test opened is closed again
 */
export async function waitForConnectionCount(
  appName: string,
  expected: number,
  timeoutMillis = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    const count = await serverConnectionCount(appName)
    if (count === expected) return
    if (Date.now() >= deadline) {
      throw new Error(
        `Expected ${expected} server connections for application_name '${appName}', ` +
          `still ${count} after ${timeoutMillis}ms.`,
      )
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/**
 * Terminates the server backends of this application_name with `pg_terminate_backend`, as a server
 * restart or an administrator would. The backends leave `pg_stat_activity` shortly after; use
 * {@link waitForConnectionCount} to wait for that.
 *
 * @returns how many backends were signalled
 * @example
 * await terminateBackends(appName, { state: 'idle' }) // drop the pool's idle connections
 */
export async function terminateBackends(
  appName: string,
  options: TerminateBackendsOptions = {},
): Promise<number> {
  return withObserver(async (client) => {
    const result = await client.query<{ terminated: boolean }>(
      `SELECT pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
        WHERE application_name = $1 AND pid <> pg_backend_pid() AND ($2::text IS NULL OR state = $2)`,
      [appName, options.state ?? null],
    )
    return result.rows.filter((row) => row.terminated).length
  })
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject)
      resolve((server.address() as AddressInfo).port)
    })
  })
}

/**
 * A TCP listener on 127.0.0.1 that accepts connections and never answers: a connect attempt to
 * it hangs until the client's own timeout fires.
 *
 * @example
 * const hole = await blackholeServer()
 * const client = new pg.Client({ host: hole.host, port: hole.port, connectionTimeoutMillis: 200 })
 * await client.connect() // rejects after ~200ms
 * await hole.close()
 */
export async function blackholeServer(): Promise<BlackholeServer> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createServer((socket) => {
    accepted += 1
    sockets.add(socket)
    socket.on('error', () => {}) // a client giving up may reset the socket
    socket.on('close', () => sockets.delete(socket))
  })
  const port = await listen(server)
  let closing: Promise<void> | undefined
  return {
    host: '127.0.0.1',
    port,
    connections: () => accepted,
    close() {
      closing ??= new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
      return closing
    },
  }
}

/**
 * A port on 127.0.0.1 that refuses connections (ECONNREFUSED): bound once by this process, then
 * released.
 *
 * @example
 * const port = await closedPort()
 * const client = new pg.Client({ host: '127.0.0.1', port }) // connect() rejects with ECONNREFUSED
 */
export async function closedPort(): Promise<number> {
  const server = createServer()
  const port = await listen(server)
  await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
  return port
}
