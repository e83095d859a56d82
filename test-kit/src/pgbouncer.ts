// Runs a real PgBouncer in front of the test server, one private instance per caller, so tests can
// prove the adapter works through transaction pooling.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { accessSync, constants, rmSync } from 'node:fs'
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import pg from 'pg'
import { stopChildProcess } from './child-process.js'
import { pgConfig, type PgConfig } from './pg-server.js'
import { freePort } from './private-cluster.js'

const execFileAsync = promisify(execFile)

/** Options for {@link startPgBouncer}. */
export interface PgBouncerOptions {
  /** PgBouncer's `pool_mode`; default `'transaction'`. */
  poolMode?: 'session' | 'transaction' | 'statement'
  /**
   * PgBouncer's `max_prepared_statements` (protocol-level prepared statements in transaction mode).
   * Needs PgBouncer 1.21 or later; check {@link supportsMaxPreparedStatements} first.
   */
  maxPreparedStatements?: number
  /** Server connections per user and database pair (`default_pool_size`); default 20. */
  defaultPoolSize?: number
  /** `max_client_conn`; default 200. */
  maxClientConn?: number
  /** `query_wait_timeout` in seconds: how long a client's query may wait for a server connection (PgBouncer's default: 120). */
  queryWaitTimeoutSeconds?: number
  /**
   * Startup parameters PgBouncer accepts and drops (`ignore_startup_parameters`); default
   * `['extra_float_digits']`. PgBouncer rejects any other unknown one, e.g. `statement_timeout`.
   */
  ignoreStartupParameters?: readonly string[]
  /**
   * The server PgBouncer pools for (default: the test server, from the PG* variables). Its `user` is the
   * one PgBouncer logs in as, whatever the client's.
   */
  upstream?: PgConfig
  /** Milliseconds to wait for PgBouncer to accept connections; default 5000. */
  startTimeoutMillis?: number
}

/** A running PgBouncer; see {@link startPgBouncer}. */
export interface PgBouncer {
  readonly host: string
  readonly port: number
  /** The database name clients use; the same as the server's. */
  readonly database: string
  readonly user: string
  /** e.g. `'1.18.0'` */
  readonly version: string
  /** `postgres://user@host:port/database`; add `?application_name=...` as needed. */
  readonly connectionString: string
  /** Settings for `pg.Client` / `pg.Pool`; spread and add `application_name`. */
  readonly config: PgConfig
  /** Runs a command on PgBouncer's admin console (`SHOW POOLS`, `SHOW SERVERS`, `RECONNECT`...). */
  admin(command: string): Promise<Record<string, unknown>[]>
  /**
   * Closes PgBouncer's server connections as they become idle (`RECONNECT`). Pooled server
   * connections keep the application_name of the last client linked to them until they close.
   */
  closeServerConnections(): Promise<void>
  /** The last lines PgBouncer logged, for failure messages. */
  logs(): string
  /** Stops PgBouncer (its server connections close with it) and removes its files. Idempotent. */
  stop(): Promise<void>
}

const MAX_LOG_LINES = 200
let versionPromise: Promise<string> | undefined

function findExecutable(): string {
  const configured = process.env['PGBOUNCER']
  if (configured) return configured
  const pathDirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean)
  // Distributions install it in sbin, which is often missing from a non-root PATH.
  for (const dir of [...pathDirs, '/usr/sbin', '/usr/local/sbin', '/usr/local/bin']) {
    const candidate = join(dir, 'pgbouncer')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // try the next directory
    }
  }
  throw new Error('Could not find pgbouncer. Install it or set PGBOUNCER to its path.')
}

/**
 * The installed PgBouncer's version, e.g. `'1.18.0'`.
 *
 * @example
 * if (!(await supportsMaxPreparedStatements())) return // skip
 */
export function pgBouncerVersion(): Promise<string> {
  versionPromise ??= execFileAsync(findExecutable(), ['--version']).then(({ stdout }) => {
    const match = /PgBouncer (\d+\.\d+\.\d+)/.exec(stdout)
    if (!match?.[1]) throw new Error(`Could not read the PgBouncer version from '${stdout.trim()}'.`)
    return match[1]
  })
  return versionPromise
}

/** Whether the installed PgBouncer knows `max_prepared_statements` (1.21 or later). */
export async function supportsMaxPreparedStatements(): Promise<boolean> {
  const [major = 0, minor = 0] = (await pgBouncerVersion()).split('.').map(Number)
  return major > 1 || (major === 1 && minor >= 21)
}

function quoted(value: string): string {
  return `"${value.replaceAll('"', '""')}"`
}

function iniFile(options: PgBouncerOptions, upstream: PgConfig, port: number, authFile: string): string {
  const target = [
    `host=${upstream.host}`,
    `port=${upstream.port}`,
    `dbname=${upstream.database}`,
    `user=${upstream.user}`,
    ...(upstream.password === undefined ? [] : [`password=${upstream.password}`]),
  ].join(' ')
  const settings: Record<string, string | number> = {
    listen_addr: '127.0.0.1',
    listen_port: port,
    unix_socket_dir: '',
    auth_type: 'trust',
    auth_file: authFile,
    admin_users: upstream.user,
    stats_users: upstream.user,
    pool_mode: options.poolMode ?? 'transaction',
    default_pool_size: options.defaultPoolSize ?? 20,
    max_client_conn: options.maxClientConn ?? 200,
    ignore_startup_parameters: (options.ignoreStartupParameters ?? ['extra_float_digits']).join(','),
    log_connections: 0,
    log_disconnections: 0,
    ...(options.maxPreparedStatements === undefined
      ? {}
      : { max_prepared_statements: options.maxPreparedStatements }),
    ...(options.queryWaitTimeoutSeconds === undefined ? {} : { query_wait_timeout: options.queryWaitTimeoutSeconds }),
  }
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`)
  return `[databases]\n${upstream.database} = ${target}\n\n[pgbouncer]\n${lines.join('\n')}\n`
}

async function idOf(user: string, flag: '-u' | '-g'): Promise<number> {
  const { stdout } = await execFileAsync('id', [flag, user])
  return Number(stdout.trim())
}

// PgBouncer refuses to run as root: it then drops to this user, who must be able to read its files.
async function runAsUser(dir: string, files: string[]): Promise<string[]> {
  if (process.getuid?.() !== 0) return []
  const user = process.env['PGBOUNCER_USER'] || 'postgres'
  const [uid, gid] = await Promise.all([idOf(user, '-u'), idOf(user, '-g')])
  await chown(dir, uid, gid)
  await Promise.all(files.map((file) => chown(file, uid, gid)))
  return ['-u', user]
}

function waitForListening(child: ChildProcess, port: number, timeoutMillis: number, logs: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) =>
      reject(new Error(`Could not start PgBouncer. It exited (${signal ?? code}):\n${logs()}`))
    child.once('exit', onExit)
    const attempt = () => {
      const socket = connect(port, '127.0.0.1')
      socket.once('connect', () => {
        socket.destroy()
        child.off('exit', onExit)
        resolve()
      })
      socket.once('error', () => {
        socket.destroy()
        if (child.exitCode !== null || child.signalCode !== null) return // onExit reports it
        if (Date.now() >= deadline) {
          child.off('exit', onExit)
          reject(new Error(`Could not start PgBouncer. Not listening after ${timeoutMillis}ms:\n${logs()}`))
          return
        }
        setTimeout(attempt, 20)
      })
    }
    attempt()
  })
}

async function startOnce(options: PgBouncerOptions, version: string): Promise<PgBouncer> {
  const upstream = options.upstream ?? pgConfig()
  const dir = await mkdtemp(join(tmpdir(), 'lifeguard-pgbouncer-'))
  const lines: string[] = []
  const logs = () => lines.join('\n')
  let child: ChildProcess | undefined
  const killOnExit = () => {
    child?.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const port = await freePort()
    const iniPath = join(dir, 'pgbouncer.ini')
    const authFile = join(dir, 'userlist.txt')
    await writeFile(iniPath, iniFile(options, upstream, port, authFile), { mode: 0o600 })
    // auth_type trust still needs the user listed; the password field is unused.
    await writeFile(authFile, `${quoted(upstream.user)} ""\n`, { mode: 0o600 })
    await chmod(dir, 0o700)
    const userArgs = await runAsUser(dir, [iniPath, authFile])

    child = spawn(findExecutable(), [...userArgs, iniPath], { stdio: ['ignore', 'pipe', 'pipe'] })
    // Pipes are sockets: unref them too, or they alone would keep the test process alive.
    for (const stream of [child.stdout, child.stderr] as (Socket | null)[]) {
      stream?.setEncoding('utf8')
      stream?.on('data', (chunk: string) => {
        lines.push(...chunk.trimEnd().split('\n'))
        if (lines.length > MAX_LOG_LINES) lines.splice(0, lines.length - MAX_LOG_LINES)
      })
      stream?.unref()
    }
    // A forgotten stop() must neither hang the test run nor leave PgBouncer behind.
    process.once('exit', killOnExit)
    child.unref()
    await waitForListening(child, port, options.startTimeoutMillis ?? 5000, logs)

    const running = child
    const config: PgConfig = { host: '127.0.0.1', port, user: upstream.user, database: upstream.database }
    const admin = async (command: string) => {
      const client = new pg.Client({ ...config, database: 'pgbouncer', application_name: 'lifeguard-test-admin' })
      await client.connect()
      try {
        return (await client.query<Record<string, unknown>>(command)).rows
      } finally {
        await client.end()
      }
    }
    let stopping: Promise<void> | undefined
    return {
      host: config.host,
      port,
      database: config.database,
      user: config.user,
      version,
      connectionString: `postgres://${encodeURIComponent(config.user)}@${config.host}:${port}/${encodeURIComponent(config.database)}`,
      config,
      admin,
      async closeServerConnections() {
        await admin(`RECONNECT ${config.database}`)
      },
      logs,
      stop() {
        stopping ??= (async () => {
          await stopChildProcess(running, 2000) // SIGTERM is PgBouncer's immediate shutdown
          process.off('exit', killOnExit)
          await rm(dir, { recursive: true, force: true })
        })()
        return stopping
      },
    }
  } catch (error) {
    if (child) await stopChildProcess(child, 2000)
    process.off('exit', killOnExit)
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/**
 * Starts a private PgBouncer on a free port of 127.0.0.1, in front of the test server
 * ({@link pgConfig}), with trust authentication and an admin console for the same user.
 * Works when the tests run as root (PgBouncer then drops to `postgres`, or `PGBOUNCER_USER`).
 *
 * @throws {Error} when `maxPreparedStatements` is given and PgBouncer is older than 1.21, or it
 *   does not start; the message carries PgBouncer's log
 * @example
 * const bouncer = await startPgBouncer({ poolMode: 'transaction' })
 * const pool = new pg.Pool({ ...bouncer.config, application_name: appName })
 * // ...
 * await pool.end()
 * await bouncer.stop()
 */
export async function startPgBouncer(options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const version = await pgBouncerVersion()
  if (options.maxPreparedStatements !== undefined && !(await supportsMaxPreparedStatements())) {
    throw new Error(
      `Could not start PgBouncer. \`maxPreparedStatements\` needs PgBouncer 1.21 or later, found ${version}.`,
    )
  }
  // Another process may take the free port between our probe and PgBouncer's bind: retry.
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await startOnce(options, version)
    } catch (error) {
      const portTaken = error instanceof Error && /Address already in use/i.test(error.message)
      if (!portTaken || attempt >= 3) throw error
    }
  }
}
