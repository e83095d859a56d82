import type { Clock, ClockTimer } from '@lifeguard/core'
import { systemClock } from '@lifeguard/core/adapter'
import { createSignalEscalation } from './signal-escalation.js'

/** What {@link onShutdownSignal} runs. */
export interface ShutdownSteps {
  /** The graceful shutdown: exit 0 when it resolves, 1 when it throws or outlasts `timeoutMillis`. */
  shutdown(signal: NodeJS.Signals): Promise<void>
  /**
   * On a second signal, or once the graceful shutdown has outlasted `timeoutMillis`: stops at once what would
   * outlive the process (an embedded database, its folder), then
   * the process exits 1. Must be bounded. The requests and the pools' connections end with the process (though
   * a statement waiting on a lock in a server of one's own runs once the lock is free: see the README).
   */
  force(): Promise<void>
  /** Requests being served, for the line that says the shutdown was forced. */
  requestsInFlight(): number
  /** Bounds the graceful shutdown: past it, `force()` runs, as on a second signal. */
  readonly timeoutMillis: number
  /**
   * Bounds the forced stop, from the second signal (or the graceful deadline) on: it replaces what is left of `timeoutMillis`, which could
   * otherwise cut short a forced stop begun near it (a server killed, but its folder not yet removed).
   */
  readonly forceTimeoutMillis: number
}

/** Where {@link onShutdownSignal} meets the process; a test passes its own. */
export interface ShutdownHost {
  /** Emits `'SIGTERM'`, `'SIGINT'` and `'SIGHUP'`. */
  readonly signals: { on(signal: 'SIGTERM' | 'SIGINT' | 'SIGHUP', listener: () => void): unknown }
  /** The pid of the `npm start` wrapper to watch, if started by one (`ORDERS_API_WRAPPER_PID`). */
  readonly wrapperPid: number | undefined
  /** This process's parent pid, now. */
  parentPid(): number
  /** What the process exits with when nothing is left to run. */
  setExitCode(code: number): void
  exit(code?: number): void
  /** Times the grace, the deadline, the watch of the wrapper; every timer runs in the background. */
  readonly clock: Clock
}

const wrapperPid = Number(process.env['ORDERS_API_WRAPPER_PID'])

/** The real process. */
const processHost: ShutdownHost = {
  signals: process,
  wrapperPid: Number.isInteger(wrapperPid) && wrapperPid > 0 ? wrapperPid : undefined,
  parentPid: () => process.ppid,
  setExitCode: (code) => void (process.exitCode = code),
  exit: (code) => process.exit(code),
  clock: systemClock,
}

/** How often the `npm start` wrapper is looked for. */
const watchMillis = 500

/**
 * Runs `shutdown` on the first SIGTERM, SIGINT or SIGHUP (or when the `npm start` that started it is gone), then
 * lets the process exit with its result. A second signal, more than a second after the first, runs `force` and
 * exits 1 (Ctrl-C again when a request holds the drain); one sooner is a copy of the first (a terminal's Ctrl-C
 * delivered directly and relayed by npm) and must not cut the drain short.
 *
 * Once forced, the forced stop owns the exit and the output: the graceful shutdown, which goes on in the
 * background (the database it waits on is being stopped under it), no longer logs, sets the exit code or exits,
 * and its deadline gives way to `forceTimeoutMillis`, counted from the second signal. A graceful shutdown that
 * outlasts `timeoutMillis` is forced the same way: exiting without `force` would leave an embedded database running.
 */
export function onShutdownSignal(steps: ShutdownSteps, log: (line: string) => void, host: ShutdownHost = processHost): void {
  const { clock } = host
  const escalation = createSignalEscalation({
    clock,
    onForceAvailable: () => log('still shutting down: press Ctrl-C again (or send another SIGTERM) to stop at once'),
  })
  let forced = false
  let watch: ClockTimer | undefined
  // The graceful shutdown's, then the forced stop's.
  let deadline: ClockTimer | undefined
  const handle = (signal: NodeJS.Signals, why = `${signal} received`): void => {
    const request = escalation.receive()
    if (request === 'force') return force(`${why} while shutting down: shutdown forced`)
    if (request === 'ignore') return
    // A shutdown has begun: the wrapper going now (a closed terminal's SIGTERM comes first, the wrapper ends
    // right after) must not count as a second signal, which after the grace would force the shutdown.
    if (watch !== undefined) clock.clearTimeout(watch)
    log(`${why}: shutting down (stop accepting, finish in-flight requests, close pools)`)
    // Until the shutdown says it finished: a process whose event loop empties first (a step that waits on
    // something gone) exits 1, not 0.
    host.setExitCode(1)
    // Past it, the forced stop: exiting without it would leave an embedded database running.
    deadline = clock.setTimeout(() => force(`shutdown did not finish within ${steps.timeoutMillis}ms: stopping at once`), steps.timeoutMillis, true)
    steps.shutdown(signal).then(
      () => {
        if (forced) return
        if (deadline !== undefined) clock.clearTimeout(deadline)
        escalation.settle()
        host.setExitCode(0)
        log('stopped cleanly')
        // Nothing should be left to keep the process alive; if something is, do not hang on it.
        clock.setTimeout(() => host.exit(), 2_000, true)
      },
      (error: unknown) => {
        if (forced) return
        if (deadline !== undefined) clock.clearTimeout(deadline)
        escalation.settle()
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
        host.exit(1)
      },
    )
  }
  const force = (what: string): void => {
    // Once: the deadline and a later signal may both ask.
    if (forced) return
    forced = true
    log(`${what}, cutting off ${steps.requestsInFlight()} request(s) in flight; exiting 1`)
    // The forced stop gets its own bound: what is left of the graceful one may be less than it needs.
    if (deadline !== undefined) clock.clearTimeout(deadline)
    deadline = clock.setTimeout(
      () => {
        log(`forced shutdown did not finish within ${steps.forceTimeoutMillis}ms: exiting anyway`)
        host.exit(1)
      },
      steps.forceTimeoutMillis,
      true,
    )
    steps.force().then(
      () => {
        if (deadline !== undefined) clock.clearTimeout(deadline)
        host.exit(1)
      },
      (error: unknown) => {
        if (deadline !== undefined) clock.clearTimeout(deadline)
        log(`forced shutdown: ${error instanceof Error ? error.message : String(error)}`)
        host.exit(1)
      },
    )
  }
  host.signals.on('SIGTERM', () => handle('SIGTERM'))
  host.signals.on('SIGINT', () => handle('SIGINT'))
  // The terminal that started it closed: Node's default for SIGHUP is to die at once, which would leave an
  // embedded PostgreSQL running and its data folder behind.
  host.signals.on('SIGHUP', () => handle('SIGHUP'))
  // Started by `npm start` (the root's or this package's, both through scripts/start-example.mjs), which gives
  // its pid: when that ends without passing a signal on (npm killed outright with SIGKILL, a supervisor taking
  // down its process), no signal comes, but this process is re-parented. The service must not live on
  // unsupervised, holding its port and its database. Watched until a shutdown begins, whatever began it.
  const wrapper = host.wrapperPid
  if (wrapper !== undefined) {
    const look = (): void => {
      watch = undefined
      if (host.parentPid() !== wrapper) return handle('SIGTERM', 'npm start is gone')
      watch = clock.setTimeout(look, watchMillis, true)
    }
    watch = clock.setTimeout(look, watchMillis, true)
  }
}
