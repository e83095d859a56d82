/**
 * Logs the errors of a connection that reconnects by itself without flooding the log: while Redis is down,
 * BullMQ reports every failed reconnect (several a second). The first error of an outage is logged, then
 * one line with the count every `everyMillis`, and one when the connection is back.
 *
 * @example
 * const errors = outageLog(log)
 * worker.on('error', errors.failed)
 * connection.on('ready', errors.recovered)
 */
export function outageLog(log: (line: string) => void, everyMillis = 60_000, now: () => number = Date.now): { failed(error: Error): void; recovered(): void } {
  // Failures since the outage began.
  let failures = 0
  let loggedAt = 0
  return {
    failed(error) {
      failures++
      if (failures > 1 && now() - loggedAt < everyMillis) return
      log(failures === 1 ? `worker error: ${error.message}` : `worker error: ${error.message} (${failures} errors since the first)`)
      loggedAt = now()
    },
    recovered() {
      if (failures === 0) return
      log(`worker connection back after ${failures} error(s)`)
      failures = 0
    },
  }
}
