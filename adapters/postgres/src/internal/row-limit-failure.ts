import type { EventEmitter } from 'node:events'
import pg from 'pg'
import { activeStatement, notQueryable } from './end-client.js'
import { clientState, type PooledClient } from './pooled-client.js'
import { hasCompleted, pgQueryClass } from './taken-statement.js'

/** Why a connection was closed after the server refused a statement with a row limit. */
const rowLimitClosed = 'A query with a row limit (`rows`) failed, which leaves its session without a ready state, so its connection was closed.'

/** Why a connection was closed after a statement on it ran past `query_timeout`. */
export const timedOutClosed = 'A statement on this connection ran past query_timeout, so the connection was closed.'

// What is read of pg's client here: its connection (an emitter of protocol messages) and that connection's socket.
interface WithConnection {
  readonly connection?: EventEmitter & { readonly stream?: { destroy?(error?: Error): void } }
}

/**
 * Watches a client's protocol messages for the server's error answer (ErrorResponse) to pg's own Query with a
 * row limit (`rows`, truthy: pg's own test). pg sends no Sync after that answer (pg 8, query.js: `if (!rows)
 * connection.sync()`), so the server never says it is ready again: the statement's caller gets the server's
 * error, but a statement queued behind it, or sent next (a `ROLLBACK`, a `COMMIT`), would wait for good. The
 * connection is ended at once instead, as `abandonStatement` does: those fail now, and it is closed when
 * released (the server rolls an open transaction back). Marked `rowLimitFailed` and `broken`, unless the
 * statement had run past `query_timeout` (its cancel drew the error): then it is only `broken`, so the timeout
 * stays the reason. A failure the server did not answer leaves the session ready and marks nothing: a value pg
 * cannot serialize (it sends Close and Sync), a type parser that throws (pg Syncs at CommandComplete), an
 * error pg raises before sending anything, an error after its CommandComplete (pg synced then: the implicit
 * transaction's commit failed). A cursor (pg-cursor) sends its own Sync. One listener per connection, ahead of
 * pg's own handler (so the marks are set before the caller hears); nothing per query. Returns false when pg's
 * fields it reads are not there (then `runStatement` marks such a failure itself).
 */
export function watchRowLimitFailure(client: PooledClient, ended: (error: Error) => void): boolean {
  const { connection } = client as unknown as WithConnection
  // pg's own Query class: the only kind that skips the Sync.
  const Query = pgQueryClass(client)
  if (connection === undefined || Query === undefined) return false
  connection.prependListener('errorMessage', (message: { severity?: unknown }) => {
    const active = activeStatement(client)
    if (!(active instanceof Query) || failedBeforeSent.has(active) || !refusedBeforeComplete(active, message.severity)) return
    const state = client[clientState]
    if (state.broken || notQueryable(client)) return
    if (!state.timedOut) state.rowLimitFailed = true
    const error = new Error(state.timedOut ? timedOutClosed : rowLimitClosed)
    state.failure ??= error
    state.broken = true
    // Told now (a holder may release it from pg's callback, before the socket's own error): its pool reports it.
    ended(error)
    connection.stream?.destroy?.(error)
  })
  return true
}

// pg's Queries that pg failed itself while they were its running statement: a value it could not serialize in
// Bind, after which it sends Close and Sync. The server may still refuse the Parse it had sent (a syntax error):
// that error is no refusal of a row-limited statement, and the session is ready after it.
const failedBeforeSent = new WeakSet<object>()

/**
 * Notes that pg failed the statement `client` runs with an error of its own, neither the server's answer nor a
 * read timeout (see `failedBeforeSent`). Called from a query's callback, on failure only.
 */
export function noteFailedBeforeSent(client: PooledClient): void {
  const active = activeStatement(client)
  if (active !== undefined) failedBeforeSent.add(active)
}

/**
 * True for the server's own answer to the statement that set `rowLimitFailed` (the connection is `broken` by
 * then, yet this is the statement's error, not a lost connection's): after it, nothing else reaches the client.
 */
export function isRowLimitAnswer(client: PooledClient, error: unknown): boolean {
  return client[clientState].rowLimitFailed && error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC'
}

/**
 * True when the server's error (of `severity`) to pg's Query `query` leaves its session waiting for good: the
 * query has a row limit (`rows` truthy: pg's own test) and no statement of it had completed (after its
 * CommandComplete pg has sent its Sync, and an error then is the implicit commit's: a deferred constraint, a
 * serialization failure; the server says it is ready next). Not for a session the server ends (FATAL, PANIC:
 * see `watchSessionEnd`).
 */
export function refusedBeforeComplete(query: object, severity: unknown): boolean {
  if (severity === 'FATAL' || severity === 'PANIC') return false
  return Boolean((query as { rows?: unknown }).rows) && !hasCompleted(query)
}

/** A client's closing reason after the server refused its row-limited statement. */
export function rowLimitFailure(): Error {
  return new Error(rowLimitClosed)
}
