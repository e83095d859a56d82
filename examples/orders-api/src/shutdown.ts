import { createSignalEscalation } from './signal-escalation.js'

/** What {@link onShutdownSignal} runs. */
export interface ShutdownSteps {
  /** The graceful shutdown: exit 0 when it resolves, 1 when it throws or outlasts `timeoutMillis`. */
  shutdown(signal: NodeJS.Signals): Promise<void>
  /**
   * On a second signal: stops at once what would outlive the process (an embedded database, its folder), then
   * the process exits 1. Must be bounded; everything else ends with the process.
   */
  force(): Promise<void>
  /** Requests being served, for the line that says the shutdown was forced. */
  requestsInFlight(): number
  /** Bounds the graceful shutdown. */
  readonly timeoutMillis: number
}

/**
 * Runs `shutdown` on the first SIGTERM, SIGINT or SIGHUP (or when the `npm start` that started it is gone), then
 * lets the process exit with its result. A second signal, more than a second after the first, runs `force` and
 * exits 1 (Ctrl-C again when a request holds the drain); one sooner is a copy of the first (a terminal's Ctrl-C
 * delivered directly and relayed by npm) and must not cut the drain short.
 */
export function onShutdownSignal(steps: ShutdownSteps, log: (line: string) => void): void {
  const escalation = createSignalEscalation({
    onForceAvailable: () => log('still shutting down: press Ctrl-C again (or send another SIGTERM) to stop at once'),
  })
  const handle = (signal: NodeJS.Signals, why = `${signal} received`): void => {
    const request = escalation.receive()
    if (request === 'force') return force(why)
    if (request === 'ignore') return
    log(`${why}: shutting down (stop accepting, finish in-flight requests, close pools)`)
    // Until the shutdown says it finished: a process whose event loop empties first (a step that waits on
    // something gone) exits 1, not 0.
    process.exitCode = 1
    const deadline = setTimeout(() => {
      log(`shutdown did not finish within ${steps.timeoutMillis}ms: exiting anyway`)
      process.exit(1)
    }, steps.timeoutMillis)
    deadline.unref()
    steps.shutdown(signal).then(
      () => {
        clearTimeout(deadline)
        escalation.settle()
        process.exitCode = 0
        log('stopped cleanly')
        // Nothing should be left to keep the process alive; if something is, do not hang on it.
        setTimeout(() => process.exit(), 2_000).unref()
      },
      (error: unknown) => {
        clearTimeout(deadline)
        escalation.settle()
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  const force = (why: string): void => {
    log(`${why} while shutting down: shutdown forced, cutting off ${steps.requestsInFlight()} request(s) in flight; exiting 1`)
    steps.force().then(
      () => process.exit(1),
      (error: unknown) => {
        log(`forced shutdown: ${error instanceof Error ? error.message : String(error)}`)
        process.exit(1)
      },
    )
  }
  process.on('SIGTERM', () => handle('SIGTERM'))
  process.on('SIGINT', () => handle('SIGINT'))
  // The terminal that started it closed: Node's default for SIGHUP is to die at once, which would leave an
  // embedded PostgreSQL running and its data folder behind.
  process.on('SIGHUP', () => handle('SIGHUP'))
  // Started by `npm start` (the root's or this package's, both through scripts/start-example.mjs), which gives
  // its pid: when that ends without passing a signal on (npm killed outright with SIGKILL, a supervisor taking
  // down its process), no signal comes, but this process is re-parented. The service must not live on
  // unsupervised, holding its port and its database.
  const wrapper = Number(process.env['ORDERS_API_WRAPPER_PID'])
  if (Number.isInteger(wrapper) && wrapper > 0) {
    const watch = setInterval(() => {
      if (process.ppid === wrapper) return
      // Once: seen again half a second later, it would count as a second signal and force the shutdown.
      clearInterval(watch)
      handle('SIGTERM', 'npm start is gone')
    }, 500).unref()
  }
}
