// A throwaway PostgreSQL cluster for tests and benchmarks that stop, restart or kill a server: its
// own data folder (initdb), its own free loopback port, never the shared server. It is stopped and
// its folder removed by `destroy()`, and also when the process exits or is interrupted without it;
// clusters left behind by a process that was killed outright are swept by the next start.
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { findPostgresBinDir } from '../../scripts/lib/postgres-bin-dir.mjs'
import { isAlive } from './process-alive.js'

const run = promisify(execFile)
const FOLDER_PREFIX = 'lifeguard-pg-'
const OWNER_FILE = 'lifeguard-owner.pid'

/** Options of {@link startPrivateCluster}. */
export interface PrivateClusterOptions {
  /** The server's `max_connections` (default 100). */
  maxConnections?: number
  /** Other server settings, e.g. `{ wal_level: 'replica' }`. */
  settings?: Readonly<Record<string, string | number>>
  /** Extra lines for `pg_hba.conf` (e.g. to allow replication connections). */
  hba?: readonly string[]
}

/** Connection settings for a private cluster (trust authentication, user `postgres`). */
export interface PrivateClusterConnection {
  host: string
  port: number
  user: string
  database: string
}

/** A running private cluster. */
export interface PrivateCluster {
  readonly host: string
  readonly port: number
  /** Its data folder. */
  readonly dataDir: string
  /** Settings for `pg.Client` / a pool: `{ host, port, user: 'postgres', database: 'postgres' }`. */
  readonly connection: PrivateClusterConnection
  /** `postgres://postgres@127.0.0.1:PORT/postgres`. */
  readonly url: string
  /** Runs SQL through `psql` (its own short-lived connection); returns the rows, tab-separated. */
  sql(statement: string): Promise<string>
  /** `pg_ctl stop -m <mode>` (default `fast`: disconnects every client with 57P01). */
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  /** `pg_ctl restart -m <mode>`. */
  restart(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** SIGKILLs the postmaster (a crash, not a shutdown). */
  kill(): Promise<void>
  /** Promotes a standby to primary (`pg_ctl promote`), waiting until it accepts writes. */
  promote(): Promise<void>
  /** True while the server accepts connections. */
  isReady(): Promise<boolean>
  /** Stops it and removes its folder. Idempotent. */
  destroy(): Promise<void>
}

/**
 * Where the PostgreSQL server programs are: `PG_BINDIR`, else the numerically newest
 * `/usr/lib/postgresql/N/bin` that holds both `initdb` and `pg_ctl`. The rule is shared with `npm test`'s
 * preflight (scripts/lib/postgres-bin-dir.mjs, plain JavaScript so that the preflight runs before any build),
 * so the folder the preflight checked is the one used here.
 */
export function postgresBinDir(): string {
  const dir = findPostgresBinDir()
  if (dir === undefined) throw new Error('Could not find the PostgreSQL server programs (initdb, pg_ctl) in /usr/lib/postgresql/N/bin. Install PostgreSQL or set PG_BINDIR.')
  return dir
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.on('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      server.close(() => resolve(port))
    })
  })
}

// initdb and the server refuse to run as root: run them as the `postgres` user then.
const asRoot = process.getuid?.() === 0
function command(bin: string, args: readonly string[]): [string, string[]] {
  return asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, [...args]]
}
/** Runs a PostgreSQL program as the server's user (`postgres` when running as root); its stdout, or an error with its stderr. */
export async function runAsOwner(bin: string, args: readonly string[]): Promise<string> {
  const [file, argv] = command(bin, args)
  try {
    const { stdout } = await run(file, argv, { encoding: 'utf8' })
    return stdout
  } catch (error) {
    const failure = error as { stderr?: string; message: string }
    throw new Error(`${bin.split('/').pop()} failed: ${(failure.stderr || failure.message).trim()}`, { cause: error })
  }
}

const live = new Set<{ dataDir: string; destroySync(): void }>()
let exitHooked = false
function hookExit(): void {
  if (exitHooked) return
  exitHooked = true
  process.on('exit', () => {
    for (const cluster of live) cluster.destroySync()
  })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const cluster of live) cluster.destroySync()
      process.kill(process.pid, signal)
    })
  }
}

// Clusters whose owning process died without cleaning up (SIGKILL, a crash of the runner).
function sweepAbandoned(binDir: string): void {
  for (const entry of readdirSync(tmpdir())) {
    if (!entry.startsWith(FOLDER_PREFIX)) continue
    const dataDir = join(tmpdir(), entry)
    let owner = Number.NaN
    try {
      owner = Number(readFileSync(join(dataDir, OWNER_FILE), 'utf8'))
    } catch {
      // No owner file yet: another process may be creating it right now; only an old one is abandoned.
      if (Date.now() - statSync(dataDir).mtimeMs < 10 * 60_000) continue
    }
    if (Number.isInteger(owner) && isAlive(owner)) continue
    stopSync(binDir, dataDir)
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// `folder` is the cluster's temporary folder; the server's data folder is `data` inside it.
function stopSync(binDir: string, folder: string): void {
  const pgdata = join(folder, 'data')
  if (!existsSync(join(pgdata, 'postmaster.pid'))) return
  const [file, argv] = command(join(binDir, 'pg_ctl'), ['stop', '-D', pgdata, '-m', 'immediate', '-w', '-t', '10'])
  try {
    execFileSync(file, argv, { stdio: 'ignore' })
  } catch {
    // Already stopped, or stopping failed: the folder is removed either way.
  }
}

/**
 * Creates and starts a PostgreSQL cluster of its own (initdb into a temporary folder, a free port on
 * 127.0.0.1, trust authentication). Call `destroy()` when done; it is also destroyed at process exit.
 *
 * @example
 * const cluster = await startPrivateCluster({ maxConnections: 60 })
 * try {
 *   const pool = createPostgresPool({ name: 'faults', ...cluster.connection })
 *   await cluster.restart()
 * } finally {
 *   await cluster.destroy()
 * }
 */
export async function startPrivateCluster(options: PrivateClusterOptions = {}): Promise<PrivateCluster> {
  return createCluster(async ({ binDir, folder, pgdata, port }) => {
    await runAsOwner(join(binDir, 'initdb'), ['-D', pgdata, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'])
    const settings: Record<string, string | number> = {
      port,
      listen_addresses: '127.0.0.1',
      unix_socket_directories: `'${folder}'`,
      max_connections: options.maxConnections ?? 100,
      fsync: 'off',
      synchronous_commit: 'off',
      full_page_writes: 'off',
      ...options.settings,
    }
    const conf = Object.entries(settings).map(([key, value]) => `${key} = ${typeof value === 'number' ? value : quoteSetting(value)}`)
    await appendAsOwner(join(pgdata, 'postgresql.conf'), conf)
    if (options.hba !== undefined && options.hba.length > 0) await appendAsOwner(join(pgdata, 'pg_hba.conf'), options.hba)
  })
}

/** Where a new cluster lives, for the step that fills its data folder. */
export interface ClusterFolder {
  readonly binDir: string
  /** The cluster's temporary folder (its socket and log live here). */
  readonly folder: string
  /** The data folder to fill (empty, owned by the server's user). */
  readonly pgdata: string
  /** The free port it will listen on. */
  readonly port: number
}

/**
 * Makes a temporary folder registered for cleanup, lets `prepare` fill its data folder (initdb, or
 * pg_basebackup for a standby), starts the server and returns its handle. Everything is removed again
 * if a step fails.
 */
export async function createCluster(prepare: (where: ClusterFolder) => Promise<void>): Promise<PrivateCluster> {
  const binDir = postgresBinDir()
  sweepAbandoned(binDir)
  hookExit()
  const folder = mkdtempSync(join(tmpdir(), FOLDER_PREFIX))
  writeFileSync(join(folder, OWNER_FILE), String(process.pid))
  let destroyed = false
  const handle = {
    dataDir: folder,
    destroySync() {
      if (destroyed) return
      destroyed = true
      live.delete(handle)
      stopSync(binDir, folder)
      rmSync(folder, { recursive: true, force: true })
    },
  }
  live.add(handle)
  try {
    // initdb and pg_basebackup want an empty folder owned by the user they run as.
    const pgdata = join(folder, 'data')
    if (asRoot) {
      execFileSync('install', ['-d', '-o', 'postgres', '-g', 'postgres', '-m', '700', pgdata])
      chownSync(folder, uidOf('postgres'), gidOf('postgres'))
    }
    const port = await freePort()
    await prepare({ binDir, folder, pgdata, port })
    const pgCtl = (args: string[]) => runAsOwner(join(binDir, 'pg_ctl'), ['-D', pgdata, ...args])
    const log = join(folder, 'server.log')
    const start = async () => {
      await pgCtl(['start', '-w', '-t', '30', '-l', log])
    }
    await start()
    const connection: PrivateClusterConnection = { host: '127.0.0.1', port, user: 'postgres', database: 'postgres' }
    const cluster: PrivateCluster = {
      host: '127.0.0.1',
      port,
      dataDir: pgdata,
      connection,
      url: `postgres://postgres@127.0.0.1:${port}/postgres`,
      sql: (statement) => runAsOwner(join(binDir, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-XAtq', '-F', '\t', '-v', 'ON_ERROR_STOP=1', '-c', statement]),
      stop: async (mode = 'fast') => {
        await pgCtl(['stop', '-m', mode, '-w', '-t', '30'])
      },
      start,
      restart: async (mode = 'fast') => {
        await pgCtl(['restart', '-m', mode, '-w', '-t', '30', '-l', log])
      },
      kill: async () => {
        const pid = Number(readFileSync(join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0])
        process.kill(pid, 'SIGKILL')
        while (isAlive(pid)) await new Promise((resolve) => setTimeout(resolve, 10))
      },
      promote: async () => {
        await pgCtl(['promote', '-w', '-t', '30'])
      },
      isReady: async () => {
        try {
          await run(join(binDir, 'pg_isready'), ['-q', '-h', '127.0.0.1', '-p', String(port)])
          return true
        } catch {
          return false
        }
      },
      destroy: async () => {
        handle.destroySync()
      },
    }
    return cluster
  } catch (error) {
    handle.destroySync()
    throw error
  }
}

function quoteSetting(value: string): string {
  return value.startsWith("'") ? value : `'${value.replace(/'/g, "''")}'`
}

/** Appends lines to a file of the server's user. */
export async function appendAsOwner(file: string, lines: readonly string[]): Promise<void> {
  // The file belongs to the server's user; append through a shell running as that user.
  const text = `\n${lines.join('\n')}\n`
  const [bin, argv] = command('/bin/sh', ['-c', 'cat >> "$1"', 'sh', file])
  await new Promise<void>((resolve, reject) => {
    const child = execFile(bin, argv, (error) => (error ? reject(error) : resolve()))
    child.stdin?.end(text)
  })
}

function uidOf(user: string): number {
  return Number(execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim())
}
function gidOf(user: string): number {
  return Number(execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim())
}
