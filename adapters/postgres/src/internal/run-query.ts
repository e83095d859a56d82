import pg from 'pg'
import type { QueryText, QueryValues } from '../query-types.js'
import type { TrackedClient } from './tracked-client.js'

type QueryCallback = (error: Error | undefined, result: pg.QueryResult<any>) => void

/**
 * Runs one query on a checked-out client and releases it, settling through the given functions (one
 * promise per query, made by the caller). A server-side error (syntax, constraint, ...) leaves the
 * connection healthy, so it goes back to the pool; any other failure (a dropped connection, a read
 * timeout) may leave it unusable, so it is closed. So is a connection the query left inside a
 * transaction.
 */
export function sendQuery<R extends pg.QueryResultRow>(
  client: TrackedClient,
  text: QueryText,
  values: QueryValues | undefined,
  resolve: (result: pg.QueryResult<R>) => void,
  reject: (error: unknown) => void,
): void {
  const done: QueryCallback = (error, result) => {
    if (error) {
      client.release(releaseArgumentFor(error))
      reject(error)
      return
    }
    // A lone `BEGIN` would otherwise hand an open transaction to the next caller of the pool.
    const status = client.getTransactionStatus()
    client.release(status === 'T' || status === 'E' ? new Error(leftOpen) : undefined)
    resolve(result)
  }
  try {
    ;(client.query as (text: unknown, values: unknown, callback: QueryCallback) => void)(text, values, done)
  } catch (error) {
    // pg throws synchronously for a null query or a bad callback.
    client.release()
    reject(error)
  }
}

/** `sendQuery` as a promise. */
export function queryAndRelease<R extends pg.QueryResultRow>(client: TrackedClient, text: QueryText, values: QueryValues | undefined): Promise<pg.QueryResult<R>> {
  return new Promise<pg.QueryResult<R>>((resolve, reject) => sendQuery(client, text, values, resolve, reject))
}

const leftOpen = 'A single query left a transaction open, so its connection was closed. Use transaction() for multi-statement work.'

/**
 * What to pass to `release()` after a failed query: nothing when the server answered with an ordinary
 * error, the error itself (closing the connection) when the session is over (FATAL: terminated,
 * shutting down) or the failure was not the server's answer at all.
 */
export function releaseArgumentFor(error: unknown): Error | undefined {
  if (error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC') return undefined
  return error instanceof Error ? error : new Error(String(error))
}
