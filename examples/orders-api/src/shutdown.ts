/**
 * Runs `shutdown` once on the first SIGTERM, SIGINT or SIGHUP (or when the `npm start` that started it is gone), then lets the process exit with its result
 * (0 when it resolved, 1 when it threw or took longer than `timeoutMillis`). Signals that arrive while it
 * runs are ignored: a terminal's Ctrl-C may be delivered twice (to the process directly and relayed by
 * a wrapper), and a second copy must not cut the drain short.
 */
export function onShutdownSignal(shutdown: (signal: NodeJS.Signals) => Promise<void>, timeoutMillis: number, log: (line: string) => void): void {
  let started = false
  const handle = (signal: NodeJS.Signals, why = `${signal} received`): void => {
    if (started) return
    started = true
    log(`${why}: shutting down (stop accepting, finish in-flight requests, close pools)`)
    // Until the shutdown says it finished: a process whose event loop empties first (a step that waits on
    // something gone) exits 1, not 0.
    process.exitCode = 1
    const deadline = setTimeout(() => {
      log(`shutdown did not finish within ${timeoutMillis}ms: exiting anyway`)
      process.exit(1)
    }, timeoutMillis)
    deadline.unref()
    shutdown(signal).then(
      () => {
        clearTimeout(deadline)
        process.exitCode = 0
        log('stopped cleanly')
        // Nothing should be left to keep the process alive; if something is, do not hang on it.
        setTimeout(() => process.exit(), 2_000).unref()
      },
      (error: unknown) => {
        clearTimeout(deadline)
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
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
    setInterval(() => {
      if (process.ppid !== wrapper) handle('SIGTERM', 'npm start is gone')
    }, 500).unref()
  }
}
