import type { OperationContext } from '@lifeguard/core'
import type { Clock, ClockTimer, PooledConnection } from '@lifeguard/core/adapter'
import type * as pg from 'pg'

/** Where a pooled client keeps Lifeguard's state, out of the user's way. */
export const clientState: unique symbol = Symbol('lifeguard.postgres.client')

/** What a client's `release()` accepts, as in pg: a truthy value closes the connection. */
export type ReleaseArgument = Error | boolean | undefined

/** Lifeguard's state of one pooled client. */
export interface ClientState {
  /** The pool engine's record of this connection. */
  readonly lease: PooledConnection<PooledClient>
  /** The pool's clock: bounds how long a cancelled statement may go unanswered (see `cancelOnClient`). */
  readonly clock: Clock
  /** The handle holding it (`connect()` or a transaction), so `release()` can tell the handle. */
  holder: Map<PooledClient, unknown> | undefined
  /** The first error the connection reported (e.g. the server's 57P01): the cause of what fails after. */
  failure: Error | undefined
  /** True once its socket failed or ended. */
  broken: boolean
  /** Set (`host:port`) once its server refused a write as read-only (25006) in a pool that wants a writable one. */
  readOnlyServer: string | undefined
  /** True while it runs a transaction begun `READ ONLY` (whose 25006 is the caller's, not the server's). */
  readOnlyTransaction: boolean
  /** The operation whose statements run on it now, cancelled on the server if it aborts (see `StatementCancels`). */
  watchedBy: OperationContext | undefined
  /** How many of those statements have not ended (a transaction's may be queued behind each other). */
  watched: number
  /** Cancel requests sent for what it runs: delivered before it goes back to the pool (see `releaseAfterCancel`). */
  cancel: Promise<void> | undefined
  /** Tells `cancel` that the statement it targets has ended, so it sends no more requests. */
  statementEnded: (() => void) | undefined
  /** Gives the statement up if it stays unanswered (an operation that aborted or ended waits on it). */
  giveUp: ClockTimer | undefined
  /** True while a `transaction()`'s COMMIT runs: an abort gives it up when unanswered, never cancels it. */
  committing: boolean
  /** The error of the `pool.query()` that gives it back now, for pg's `release` event (the connection stays). */
  queryError: Error | undefined
  /** True once a statement failed with 57014 while `cancel` was out: the requests landed (see `afterCancel`). */
  cancelLanded: boolean
  /** True while statements a `'connect'` listener queued have not run: a close lets them finish. */
  listenerStatements: boolean
  /**
   * True once a statement on it ran past `query_timeout`: pg stopped waiting, the server may not have. It is
   * closed when released, its statement cancelled (a late cancel request must never reach another holder).
   */
  timedOut: boolean
  /**
   * True once the server refused a statement with a row limit (`rows`) on it: pg sends no Sync after that
   * error, so the server never says it is ready again, and a statement queued or sent next (a `ROLLBACK`, a
   * `COMMIT`) would wait for good. It is marked `broken` too and, where `watchRowLimitFailure` runs, its socket
   * ended at once, so those fail now; closed when released.
   */
  rowLimitFailed: boolean
  /**
   * True when `watchRowLimitFailure` could read pg's fields it needs. Else `runStatement` marks such a failure
   * in a transaction, and other clients are closed after the end grace.
   */
  rowLimitWatched: boolean
  /**
   * True from its holder's `release()` until the pool takes it back, while statements the holder left
   * running or queued finish first (see `PgPoolCore.releaseClient`): a second `release()` meanwhile throws.
   */
  releasePending: boolean
  /**
   * The client's own `release()`, as the pool set it. A `connect()` checkout gets one of its own instead (see
   * `PgPoolCore.checkout`), put back when it is given back.
   */
  ownRelease: ((argument?: ReleaseArgument) => void) | undefined
}

/** A pg client owned by a Lifeguard pool: a `pg.PoolClient` with its state. */
export type PooledClient = pg.PoolClient & { [clientState]: ClientState }

/** The state of a client just connected for `lease`. */
export function newClientState(lease: PooledConnection<PooledClient>, clock: Clock): ClientState {
  return {
    lease,
    clock,
    holder: undefined,
    failure: undefined,
    broken: false,
    readOnlyServer: undefined,
    readOnlyTransaction: false,
    watchedBy: undefined,
    watched: 0,
    cancel: undefined,
    statementEnded: undefined,
    giveUp: undefined,
    committing: false,
    queryError: undefined,
    cancelLanded: false,
    listenerStatements: false,
    timedOut: false,
    rowLimitFailed: false,
    rowLimitWatched: false,
    releasePending: false,
    ownRelease: undefined,
  }
}

/**
 * Where the client's session stands, from the server's last ReadyForQuery: `'I'` idle, `'T'` in a
 * transaction, `'E'` in a failed one; undefined from a pg without it, or before the first answer.
 */
export function transactionStatus(client: pg.ClientBase): string | undefined {
  return (client as { getTransactionStatus?: () => string | null }).getTransactionStatus?.() ?? undefined
}

/** True while the session is inside a transaction, failed or not: what its next holder would run in. */
export function inTransaction(client: pg.ClientBase): boolean {
  const status = transactionStatus(client)
  return status === 'T' || status === 'E'
}
