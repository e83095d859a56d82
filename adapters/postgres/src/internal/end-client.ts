import type { Socket } from 'node:net'
import type pg from 'pg'

/** How long a client's `end()` may wait for the server to close its side before the socket is destroyed. */
export const endGraceMillis = 2000

/**
 * Ends a client: pg's `end()` (a Terminate message, then it waits for the server to close the connection),
 * bounded. A server that went silent (a network partition, a host that accepts and never answers) never
 * closes its side: the connection then counted as closing for good, against `maxSize`, and its socket kept
 * the process alive. After `graceMillis` the socket is destroyed. Never rejects.
 */
export function endClient(client: pg.Client, graceMillis = endGraceMillis): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream
      stream?.destroy()
      resolve()
    }, graceMillis)
    // The end itself keeps the process alive while it waits: this timer only cuts it short.
    timer.unref()
    client.end().then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      () => {
        clearTimeout(timer)
        resolve()
      },
    )
  })
}
