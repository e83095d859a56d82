import { ConnectionLostError, DisposedError, OperationAbortedError, type OperationContext } from '@lifeguard/core'
import { validateOptions, type PoolMonitor } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import { PostgresQueryTimeoutError } from './errors.js'
import type { QueryText, QueryValues } from './query-types.js'
import type { StatementCancels } from './internal/statement-cancels.js'
import { clientState, transactionStatus, type PooledClient } from './internal/pooled-client.js'
import { abortedStatementError, runStatement, statementError } from './internal/run-query.js'
import { isSubmittable, queryRefusal, submittableRefused } from './internal/query-text.js'
import { awaitingReady, readyAfterError } from './internal/server-ready.js'
import { completedEnding, failedEnding, mayTellOfEnd, type CompletedEnding, type EndingCommand } from './internal/statement-ending.js'
import { completedCommands } from './internal/taken-statement.js'
import { mayCommit } from './internal/transaction-control.js'
import { finishTransaction } from './internal/symbols.js'

/** How `transaction()` begins: `BEGIN ISOLATION LEVEL ... READ ONLY`. */
export interface TransactionOptions {
  /** Default: the server's (`read committed` unless configured otherwise). */
  isolationLevel?: 'read committed' | 'repeatable read' | 'serializable' | undefined
  /** `true` begins `READ ONLY`, `false` `READ WRITE`. Default: the server's. */
  readOnly?: boolean | undefined
  /**
   * `true` begins `DEFERRABLE`, `false` `NOT DEFERRABLE`. Only a `serializable`, read-only transaction uses it:
   * it waits for a snapshot that cannot fail with a serialization error (long reports, backups). Default: the server's.
   */
  deferrable?: boolean | undefined
}

/**
 * The one connection of a `transaction()`, for the callback's queries. It stops working when the
 * transaction ends (commit, rollback, or the operation being disposed), so a late query can never run
 * on a connection that went back to the pool. A query running when its operation aborts is cancelled on
 * the server and fails with `OperationAbortedError`; one running when the operation ends, with `DisposedError`.
 */
export class PostgresTransaction {
  readonly #client: PooledClient
  readonly #pool: string
  readonly #redact: (error: unknown) => Error
  readonly #monitor: PoolMonitor
  readonly #cancels: StatementCancels
  readonly #context: OperationContext | undefined
  #finished = false
  // Finished because its callback failed (or its COMMIT did), not because its operation ended.
  #callbackFailed = false
  // True once a statement of the callback ended the transaction, as one of the fields below says: what follows
  // would run outside it (each statement committed on its own) or in a transaction chained to it.
  #ended = false
  // How a statement of the callback ended the transaction, if one did: the server's command tag.
  #endedWith: EndingCommand | undefined
  #commitRefused = false
  // True when statements ran after that end in the same text (`ROLLBACK; INSERT ...`), outside the transaction.
  #ranAfterEnd = false
  // True when a `PREPARE TRANSACTION` came after that `ROLLBACK` in the same text: `ROLLBACK TO SAVEPOINT s;
  // PREPARE TRANSACTION 'g'` (the server tags both ROLLBACK) prepared the transaction.
  #preparedAfterEnd = false
  // The error of a text that completed a `COMMIT` (or a `PREPARE TRANSACTION`) before it failed (`COMMIT; SELECT 1/0`).
  #failedAfterCommit: { readonly failure: unknown } | undefined
  // The error of a `COMMIT`, `END` or `PREPARE TRANSACTION` of the callback that got no answer: it may have taken effect.
  #commitUnknown: { readonly failure: unknown } | undefined
  // True once a `COMMIT` of the callback took effect and a transaction went on (`COMMIT AND CHAIN`, `COMMIT; BEGIN`).
  #committedEarlier = false
  // The first statement that failed in it (a `40001` the callback caught, say): why a COMMIT rolls back.
  #firstFailure: unknown
  // The server's refusal that aborted the transaction as it stands: the first since the last `ROLLBACK TO
  // SAVEPOINT` (which undoes one), not counting the refusals that only say it is aborted (25P02).
  #abortedBy: unknown

  /** @internal created by `PostgresHandle#transaction()` */
  constructor(
    client: PooledClient,
    core: { readonly name: string; readonly redact: (error: unknown) => Error; readonly monitor: PoolMonitor; readonly cancels: StatementCancels },
    context: OperationContext | undefined,
  ) {
    this.#client = client
    this.#pool = core.name
    this.#redact = core.redact
    this.#monitor = core.monitor
    this.#cancels = core.cancels
    this.#context = context
  }

  /** True once committed, rolled back or disposed. */
  get finished(): boolean {
    return this.#finished
  }

  /**
   * Runs a query inside the transaction.
   *
   * @throws {InvalidOptionError} for anything but SQL text or a query config: a cursor or stream runs on a
   *   client from `connect()`, in a transaction begun on it
   * @throws {DisposedError} once the transaction has finished (also by a statement of the callback: `ROLLBACK`,
   *   `ROLLBACK AND CHAIN`, `COMMIT`, `PREPARE TRANSACTION`, one of them that failed or got no answer, or one with a
   *   row limit, a truthy `rows`, that the server refused), or when its operation ended while it ran
   * @throws {OperationAbortedError} when its operation aborted before or while it ran (the transaction rolls back)
   * @throws {ConnectionLostError} when the connection failed (the server rolls the transaction back), also when it
   *   was queued behind a statement with a row limit that the server refused (that connection is ended at once).
   *   `mayHaveCommitted` is true for the callback's own `COMMIT`, `END` or `PREPARE TRANSACTION` (and after a
   *   `COMMIT AND CHAIN`): it may have taken effect
   * @throws {PostgresQueryTimeoutError} when it ran past `query_timeout` (it is cancelled; the transaction rolls back,
   *   unless it was the callback's own `COMMIT`, `END` or `PREPARE TRANSACTION`: then `mayHaveCommitted` is true)
   * @example
   * await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [amount, from])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>> {
    if (this.#finished) return Promise.reject(new DisposedError('Could not run a query in the transaction. The transaction has already finished.'))
    // A statement that failed is handed over before pg reads whether it ended the transaction (see `awaitingReady`).
    if (awaitingReady(this.#client)) return readyAfterError(this.#client).then(() => this.query<R>(text, values))
    // A statement of the callback ended the transaction (`ROLLBACK`, `COMMIT`, a refused one): what follows would
    // run outside it, each statement committed on its own, while `transaction()` reports the whole as failed.
    if (this.#ended || endedByStatement(this.#client)) return Promise.reject(endedError(this.#pool))
    // Its connection was ended: the server refused a statement with a row limit (see `ClientState.rowLimitFailed`).
    if (this.#client[clientState].rowLimitFailed) return Promise.reject(rowLimitFailedError(this.#pool))
    const refusal = queryRefusal(text)
    if (refusal !== undefined) return Promise.reject(refusal)
    // It would never settle: the transaction would neither commit nor give its connection back.
    if (isSubmittable(text)) {
      return Promise.reject(submittableRefused(`run a query in the transaction on pool '${this.#pool}'`, 'take one with `connect()` and run `BEGIN`, the cursor or stream, and `COMMIT` on it'))
    }
    const context = this.#context
    if (context?.aborted) return Promise.reject(new OperationAbortedError(`run a query in the transaction on pool '${this.#pool}'`, { cause: context.signal.reason }))
    return runStatement<R>(this.#monitor, this.#client, text, values, (error, sent, taken) => this.#failure(error, sent, taken), this.#cancels, context).then((result) => {
      // Read whatever the status: `COMMIT AND CHAIN` and `ROLLBACK AND CHAIN` leave the session in a transaction.
      const status = transactionStatus(this.#client)
      // A statement that succeeds in a transaction still open shows it is not aborted (an aborted one is 'E'): a
      // `ROLLBACK TO SAVEPOINT`, alone or in a text with others, undid what aborted it.
      if (status === 'T') this.#abortedBy = undefined
      // Sent before an earlier statement `fn` did not wait for ended the transaction (`void tx.query('ROLLBACK')`,
      // or a COMMIT the server refused, then an INSERT): it ran outside it, committed on its own. (A COMMIT or
      // ROLLBACK there does nothing.)
      if ((this.#ended || status === 'I') && !mayTellOfEnd(result)) this.#ranAfterEnd = true
      if (mayTellOfEnd(result)) this.#completed(completedEnding(result, text, status))
      return result
    })
  }

  #completed(ending: CompletedEnding | undefined): void {
    // The first statement that ended it says how (a COMMIT after a ROLLBACK `fn` did not wait for committed
    // nothing of the transaction); what ran after is marked where it answers.
    if (ending === undefined || this.#ended) return
    if (ending.committed === true) this.#committedEarlier = true
    if (ending.commitRefused === true) {
      this.#commitRefused = true
      this.#ended = true
    }
    if (ending.endedWith !== undefined) {
      this.#endedWith = ending.endedWith
      this.#ranAfterEnd = ending.ranAfterEnd === true
      this.#preparedAfterEnd = ending.preparedAfterEnd === true
      this.#ended = true
    }
  }

  #failure(error: unknown, text: QueryText, taken: object | undefined): unknown {
    // Its COMMIT (or PREPARE TRANSACTION) may have reached the server: a failure without its answer leaves the
    // outcome unknown, as for `transaction()`'s own COMMIT.
    const commitText = mayCommit(text)
    const failure = this.#describeFailure(error, text, commitText)
    this.#firstFailure ??= failure
    const code = (failure as { code?: unknown } | undefined)?.code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && code !== '25P02') this.#abortedBy ??= failure
    // Whether a refused COMMIT or PREPARE TRANSACTION (a deferred constraint, an identifier in use) ended the
    // transaction is the session's status once the server said it is ready (see `awaitingReady`), not the text's.
    if (taken !== undefined) {
      const ending = failedEnding(completedCommands(taken), text)
      // Its text ended the transaction before the statement that failed: the transaction took effect (or may have).
      if (ending.committed) this.#failedAfterCommit ??= { failure }
      else if (ending.rolledBack) this.#endedWith ??= 'ROLLBACK'
      if (ending.committed || ending.rolledBack) this.#ended = true
    }
    if (commitText && hasUnknownOutcome(failure)) {
      this.#commitUnknown ??= { failure }
      this.#ended = true
    }
    return failure
  }

  #describeFailure(error: unknown, text: QueryText, commitText: boolean): unknown {
    const aborted = abortedStatementError(this.#client, this.#context, `run a query in the transaction on pool '${this.#pool}'`)
    if (aborted !== undefined) return aborted
    // Cancelled because the operation ended under it (see `PostgresHandle#dispose`), or the callback failed
    // without waiting for it (see `PostgresHandle.transaction`).
    if (this.#finished && this.#client[clientState].cancel !== undefined) {
      const ended = this.#callbackFailed ? 'Its callback failed' : 'Its operation ended'
      return new DisposedError(`Could not run a query in the transaction on pool '${this.#pool}'. ${ended} while the query ran, so the query was cancelled and the transaction rolled back.`)
    }
    return statementError(this.#pool, this.#client, error, 'run a query in the transaction', commitText || this.#committedEarlier, this.#redact, text)
  }

  /** @internal */
  [finishTransaction](why?: 'callback-failed'): void {
    this.#finished = true
    if (why === 'callback-failed') this.#callbackFailed = true
  }

  /**
   * @internal `COMMIT`, `ROLLBACK` or `PREPARE` (`PREPARE TRANSACTION`) when a statement of the callback ended the
   * transaction (as the server answered it). `ROLLBACK` also after `ROLLBACK AND CHAIN` (a transaction is open).
   */
  get endedWith(): EndingCommand | undefined {
    return this.#endedWith
  }

  /** @internal True when statements ran after that end in the same text, outside the transaction. */
  get ranAfterEnd(): boolean {
    return this.#ranAfterEnd
  }

  /** @internal True when a `PREPARE` followed the `ROLLBACK` that ended it, in the same text (see `completedEnding`). */
  get preparedAfterEnd(): boolean {
    return this.#preparedAfterEnd
  }

  /**
   * @internal Set when a text of the callback failed after completing a `COMMIT` or a `PREPARE TRANSACTION`
   * (`COMMIT; SELECT 1/0`): `failure` is that text's error.
   */
  get failedAfterCommit(): { readonly failure: unknown } | undefined {
    return this.#failedAfterCommit
  }

  /**
   * @internal Set when a `COMMIT`, `END` or `PREPARE TRANSACTION` of the callback got no answer (`query_timeout`, a
   * lost connection, given up after an abort): `failure` is its error, which says it may have committed.
   */
  get commitUnknown(): { readonly failure: unknown } | undefined {
    return this.#commitUnknown
  }

  /**
   * @internal True when `fn` sent a `COMMIT` (or `PREPARE TRANSACTION`) and the server answered it with ROLLBACK:
   * a statement had failed before it. (One that failed itself is told by the session's status.)
   */
  get commitRefused(): boolean {
    return this.#commitRefused
  }

  /**
   * @internal True when a `COMMIT` (or `PREPARE TRANSACTION`) of `fn` took effect before the transaction went on
   * or ended otherwise (`COMMIT AND CHAIN`, `COMMIT; BEGIN`, `COMMIT; ROLLBACK`): a rollback now may not undo all.
   */
  get committedEarlier(): boolean {
    return this.#committedEarlier
  }

  /**
   * @internal True while the server has it aborted: it refused a statement (not undone by `ROLLBACK TO
   * SAVEPOINT`), so whatever else is sent in it fails at once (25P02).
   */
  get abortedOnServer(): boolean {
    return this.#abortedBy !== undefined
  }

  /**
   * @internal Why it failed, if a statement did (redacted): the server's refusal that aborted it (a failure
   * undone by `ROLLBACK TO SAVEPOINT` is not), else the first statement that failed.
   */
  get firstFailure(): unknown {
    return this.#abortedBy ?? this.#firstFailure
  }
}

// A failure that did not come with the statement's answer: the statement may have run to its end on the server.
function hasUnknownOutcome(failure: unknown): boolean {
  return (failure instanceof PostgresQueryTimeoutError || failure instanceof ConnectionLostError) && failure.mayHaveCommitted
}

const levels = ['read committed', 'repeatable read', 'serializable'] as const

/**
 * The `BEGIN` statement for these options.
 *
 * @throws {InvalidOptionError}
 */
export function beginStatement(options: TransactionOptions | undefined): string {
  if (options === undefined) return 'BEGIN'
  validateOptions('transaction', options, {
    isolationLevel: { type: 'oneOf', values: levels, optional: true },
    readOnly: { type: 'boolean', optional: true },
    deferrable: { type: 'boolean', optional: true },
  })
  let statement = 'BEGIN'
  if (options.isolationLevel !== undefined) statement += ` ISOLATION LEVEL ${options.isolationLevel.toUpperCase()}`
  if (options.readOnly !== undefined) statement += options.readOnly ? ' READ ONLY' : ' READ WRITE'
  if (options.deferrable !== undefined) statement += options.deferrable ? ' DEFERRABLE' : ' NOT DEFERRABLE'
  return statement
}

/**
 * @internal True once a statement of the callback ended the transaction: the server reports no transaction (read
 * once the server said it is ready: see `awaitingReady`).
 */
export function endedByStatement(client: PooledClient): boolean {
  return transactionStatus(client) === 'I'
}

/** @internal What a query, or the commit, gets after a statement of the callback ended the transaction. */
export function endedError(pool: string): DisposedError {
  return new DisposedError(
    `Could not run a query in the transaction on pool '${pool}'. A statement of the callback ended it (ROLLBACK, COMMIT or PREPARE TRANSACTION), so nothing more runs in it. Throw from the callback to roll back; return to commit.`,
  )
}

// What a query gets after a statement with a row limit failed in the transaction.
function rowLimitFailedError(pool: string): DisposedError {
  return new DisposedError(
    `Could not run a query in the transaction on pool '${pool}'. A statement in it with a row limit (\`rows\`) failed, which leaves its session without a ready state, so the transaction is rolled back and its connection closed: nothing more runs in it.`,
  )
}
