import type { Socket } from 'node:net'
import { systemClock, type Clock } from '@lifeguard/core/adapter'
import type * as pg from 'pg'

/** How long a client's `end()` may wait for the server to close its side before the socket is destroyed. */
export const endGraceMillis = 2000

/**
 * Ends a client: pg's `end()` (a Terminate message, then it waits for the server to close the connection),
 * bounded. A server that went silent (a network partition, a host that accepts and never answers) never
 * closes its side: the connection then counted as closing for good, against `maxSize`, and its socket kept
 * the process alive. After `graceMillis` the socket is destroyed. Never rejects.
 *
 * @param letStatementsFinish - end once the statements queued on it have run (within the same grace): those
 *   of a `'connect'` listener, which nobody else waits for
 */
export function endClient(client: pg.Client, clock: Clock = systemClock, graceMillis = endGraceMillis, letStatementsFinish = false): Promise<void> {
  return new Promise<void>((resolve) => {
    // A background timer: the end itself keeps the process alive while it waits; this only cuts it short.
    const timer = clock.setTimeout(
      () => {
        const stream = (client as unknown as { connection?: { stream?: Socket } }).connection?.stream
        stream?.destroy()
        resolve()
      },
      graceMillis,
      true,
    )
    const ended = (): void => {
      clock.clearTimeout(timer)
      resolve()
    }
    const end = (): void => {
      // pg's end() throws, rather than rejects, on a stream it cannot end (a custom `stream` that is no socket).
      try {
        void client.end().then(ended, ended)
      } catch {
        ended()
      }
    }
    if (letStatementsFinish && hasStatements(client)) client.once('drain', end)
    else end()
  })
}

/** The statement the client runs now (pg's own field), if any. */
export function activeStatement(client: pg.Client): object | undefined {
  return (client as unknown as { _activeQuery?: object | null })._activeQuery ?? undefined
}

/**
 * True while the client runs or queues a statement. pg's own fields (`activeQuery` and `queryQueue` are
 * deprecated getters over them; `_sentQueryQueue` holds what pipeline mode sent ahead); a pg without them is
 * taken as having nothing queued.
 */
export function hasStatements(client: pg.Client): boolean {
  const state = client as unknown as { _activeQuery?: unknown; _queryQueue?: unknown[]; _sentQueryQueue?: unknown[] }
  return (state._activeQuery !== undefined && state._activeQuery !== null) || (state._queryQueue?.length ?? 0) > 0 || (state._sentQueryQueue?.length ?? 0) > 0
}

/**
 * True once pg refuses new statements on the client (pg's own fields, as pg-pool reads them): its `end()` was
 * called, or its socket failed. Either is seen here at once; the client's `'end'` comes a round trip later.
 */
export function notQueryable(client: pg.Client): boolean {
  const state = client as unknown as { _ending?: boolean; _queryable?: boolean }
  return state._ending === true || state._queryable === false
}

/**
 * Calls `then(true)` once the client has run every statement sent or queued on it (pg's `'drain'`), and
 * `then(false)` when its connection failed or ended first, or it stayed busy for `graceMillis`: a statement
 * the server never answers must not hold the wait for good. Calls it once.
 */
export function whenDrained(client: pg.Client, clock: Clock, then: (drained: boolean) => void, graceMillis = endGraceMillis): void {
  const settle = (drained: boolean): void => {
    clock.clearTimeout(timer)
    client.removeListener('drain', onDrain)
    client.removeListener('end', onEnd)
    client.removeListener('error', onEnd)
    then(drained)
  }
  const onDrain = (): void => settle(true)
  const onEnd = (): void => settle(false)
  // A background timer: the statements keep the process alive while they run; this only cuts the wait short.
  const timer = clock.setTimeout(() => settle(false), graceMillis, true)
  client.once('drain', onDrain)
  client.once('end', onEnd)
  client.once('error', onEnd)
}
