/**
 * Runs `shutdown` once on the first SIGTERM or SIGINT, then lets the process exit with its result
 * (0 when it resolved, 1 when it threw or took longer than `timeoutMillis`). Signals that arrive while it
 * runs are ignored: a terminal's Ctrl-C may be delivered twice (to the process directly and relayed by
 * a wrapper), and a second copy must not cut the drain short.
 */
export function onShutdownSignal(shutdown: (signal: NodeJS.Signals) => Promise<void>, timeoutMillis: number, log: (line: string) => void): void {
  let started = false
  const handle = (signal: NodeJS.Signals): void => {
    if (started) return
    started = true
    log(`${signal} received: shutting down (stop accepting, finish in-flight requests, close pools)`)
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
  process.on('SIGTERM', handle)
  process.on('SIGINT', handle)
}
