// The server's word that a statement is over (ReadyForQuery), which carries the session's transaction status.
// pg hands a statement's error over as the server's ErrorResponse arrives, and the server flushes that before it
// sends ReadyForQuery: the two may come in separate reads, and between them pg's `getTransactionStatus()` is
// still the one from before the statement (a COMMIT the server refused reads as a transaction still open).
import type { Clock } from '@lifeguard/core/adapter'
import { hasStatements, notQueryable, whenDrained } from './end-client.js'
import { clientState, type PooledClient } from './pooled-client.js'

/** Why a connection was closed when the server sent no ReadyForQuery after an error. */
export const notReady = 'The server did not say it was ready after an error (the connection stalled), so the connection was closed.'

/**
 * Calls `then(true)` once the server is ready for the next statement (pg's 'drain': usually in the same read
 * as the error), `then(false)` when the connection ended first or stayed silent for the end grace.
 */
export function whenReady(client: PooledClient, clock: Clock, then: (ready: boolean) => void): void {
  if (client[clientState].broken) return then(false)
  if ((client as { readyForQuery?: unknown }).readyForQuery === true) return then(true)
  whenDrained(client, clock, then)
}

/**
 * True while pg has handed a statement's error over and not yet read the ReadyForQuery after it: nothing runs or
 * waits on the client, and it is not ready. A field read and a flag on the common path (a ready client).
 */
export function awaitingReady(client: PooledClient): boolean {
  if ((client as { readyForQuery?: unknown }).readyForQuery !== false) return false
  return !hasStatements(client) && !client[clientState].broken && !notQueryable(client)
}

/**
 * Resolves once pg has read the ReadyForQuery it awaits (see `awaitingReady`), so the session's status is the
 * server's answer to the last statement. Never rejects. A server silent for the end grace leaves that status
 * unknown, and a statement sent would wait behind it for good: the connection is ended then, so what follows
 * fails as a lost connection.
 */
export function readyAfterError(client: PooledClient): Promise<void> {
  const state = client[clientState]
  return new Promise((resolve) => {
    whenReady(client, state.clock, (ready) => {
      if (!ready && !state.broken) {
        const error = new Error(notReady)
        state.failure ??= error
        state.broken = true
        ;(client as unknown as { connection?: { stream?: { destroy?(error?: Error): void } } }).connection?.stream?.destroy?.(error)
      }
      resolve()
    })
  })
}
