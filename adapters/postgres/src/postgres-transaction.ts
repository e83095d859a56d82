import { DisposedError, OperationAbortedError, type OperationContext } from '@lifeguard/core'
import { validateOptions, type PoolMonitor } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import type { QueryText, QueryValues } from './query-types.js'
import type { StatementCancels } from './internal/statement-cancels.js'
import { clientState, transactionStatus, type PooledClient } from './internal/pooled-client.js'
import { abortedStatementError, runStatement, statementError } from './internal/run-query.js'
import { isQueryText, isSubmittable, notAQuery, submittableRefused } from './internal/query-text.js'
import { sqlOperationName } from './internal/sql-operation-name.js'
import { completedCommands, endsTransaction } from './internal/taken-statement.js'
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
  // How a statement of the callback ended the transaction, if one did: the server's command tag.
  #endedWith: EndingCommand | undefined
  #commitRefused = false
  // True when statements ran after that end in the same text (`ROLLBACK; INSERT ...`), outside the transaction.
  #ranAfterEnd = false
  // True when a `PREPARE` came after that `ROLLBACK` in the same text: `ROLLBACK TO SAVEPOINT s; PREPARE
  // TRANSACTION 'g'` (the server tags both ROLLBACK) prepared the transaction.
  #preparedAfterEnd = false
  // The error of a text that completed a `COMMIT` (or a `PREPARE`) before it failed (`COMMIT; SELECT 1/0`).
  #failedAfterCommit: { readonly failure: unknown } | undefined
  // The first statement that failed in it (a `40001` the callback caught, say): why a COMMIT rolls back.
  #firstFailure: unknown

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
   *   `COMMIT`, `PREPARE TRANSACTION`, or one with a row limit, a truthy `rows`, that the server refused), or when its
   *   operation ended while it ran
   * @throws {OperationAbortedError} when its operation aborted before or while it ran (the transaction rolls back)
   * @throws {ConnectionLostError} when the connection failed (the server rolls the transaction back), also when it
   *   was queued behind a statement with a row limit that the server refused (that connection is ended at once)
   * @throws {PostgresQueryTimeoutError} when it ran past `query_timeout` (it is cancelled; the transaction rolls back)
   * @example
   * await tx.query('UPDATE accounts SET balance = balance - $1 WHERE id = $2', [amount, from])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>> {
    if (this.#finished) return Promise.reject(new DisposedError('Could not run a query in the transaction. The transaction has already finished.'))
    // A statement of the callback ended the transaction (`ROLLBACK`, `COMMIT`): what follows would run outside
    // it, each statement committed on its own, while `transaction()` reports the whole as failed.
    if (endedByStatement(this.#client)) return Promise.reject(endedError(this.#pool))
    // Its connection was ended: the server refused a statement with a row limit (see `ClientState.rowLimitFailed`).
    if (this.#client[clientState].rowLimitFailed) return Promise.reject(rowLimitFailedError(this.#pool))
    if (!isQueryText(text)) return Promise.reject(notAQuery())
    // It would never settle: the transaction would neither commit nor give its connection back.
    if (isSubmittable(text)) {
      return Promise.reject(submittableRefused(`run a query in the transaction on pool '${this.#pool}'`, 'take one with `connect()` and run `BEGIN`, the cursor or stream, and `COMMIT` on it'))
    }
    const context = this.#context
    if (context?.aborted) return Promise.reject(new OperationAbortedError(`run a query in the transaction on pool '${this.#pool}'`, { cause: context.signal.reason }))
    return runStatement<R>(this.#monitor, this.#client, text, values, (error, sent, taken) => this.#failure(error, sent, taken), this.#cancels, context).then((result) => {
      const ending = endedByStatement(this.#client) ? endingCommand(result) : undefined
      if (ending !== undefined) {
        this.#endedWith = ending.command
        this.#ranAfterEnd = ending.followedBy > 0
        this.#preparedAfterEnd = ending.preparedAfter
        // A COMMIT (or PREPARE TRANSACTION) the server answered with ROLLBACK: a statement had failed before it
        // (and `fn` caught that).
        const sent = sqlOperationName(text)
        this.#commitRefused = ending.command === 'ROLLBACK' && (sent === 'COMMIT' || sent === 'END' || sent === 'PREPARE')
      }
      return result
    })
  }

  #failure(error: unknown, text: QueryText, taken: object | undefined): unknown {
    const failure = this.#describeFailure(error, text)
    this.#firstFailure ??= failure
    // A COMMIT or PREPARE TRANSACTION the server refused (a deferred constraint, an identifier in use) ended the
    // transaction, rolled back. Known now: its session's status may not be read yet when the callback returns.
    const sent = sqlOperationName(text)
    if (sent === 'COMMIT' || sent === 'END' || (sent === 'PREPARE' && preparesTransaction(text))) this.#commitRefused = true
    // Its text ended the transaction before the statement that failed: the transaction took effect (or may have).
    if (taken !== undefined && this.#failedAfterCommit === undefined && completedCommands(taken).some(endsTransaction)) this.#failedAfterCommit = { failure }
    return failure
  }

  #describeFailure(error: unknown, text: QueryText): unknown {
    const aborted = abortedStatementError(this.#client, this.#context, `run a query in the transaction on pool '${this.#pool}'`)
    if (aborted !== undefined) return aborted
    // Cancelled because the operation ended under it (see `PostgresHandle#dispose`).
    if (this.#finished && this.#client[clientState].cancel !== undefined) {
      return new DisposedError(`Could not run a query in the transaction on pool '${this.#pool}'. Its operation ended while the query ran, so the query was cancelled and the transaction rolled back.`)
    }
    return statementError(this.#pool, this.#client, error, 'run a query in the transaction', false, this.#redact, text)
  }

  /** @internal */
  [finishTransaction](): void {
    this.#finished = true
  }

  /**
   * @internal `COMMIT`, `ROLLBACK` or `PREPARE` (`PREPARE TRANSACTION`) when a statement of the callback ended the
   * transaction (as the server answered it).
   */
  get endedWith(): EndingCommand | undefined {
    return this.#endedWith
  }

  /** @internal True when statements ran after that end in the same text, outside the transaction. */
  get ranAfterEnd(): boolean {
    return this.#ranAfterEnd
  }

  /** @internal True when a `PREPARE` followed the `ROLLBACK` that ended it, in the same text (see `endingCommand`). */
  get preparedAfterEnd(): boolean {
    return this.#preparedAfterEnd
  }

  /**
   * @internal Set when a text of the callback failed after completing a `COMMIT` or a `PREPARE` (`COMMIT; SELECT
   * 1/0`): `failure` is that text's error.
   */
  get failedAfterCommit(): { readonly failure: unknown } | undefined {
    return this.#failedAfterCommit
  }

  /**
   * @internal True when `fn` sent a `COMMIT` (or `PREPARE TRANSACTION`) and the server rolled back instead: a
   * statement had failed before it, or it failed itself.
   */
  get commitRefused(): boolean {
    return this.#commitRefused
  }

  /** @internal The error of the first statement that failed in it, if one did (redacted). */
  get firstFailure(): unknown {
    return this.#firstFailure
  }
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

/** @internal True once a statement of the callback ended the transaction: the server reports no transaction. */
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

/** The server's command tag for a statement that ends a transaction (`PREPARE` for `PREPARE TRANSACTION`). */
type EndingCommand = 'COMMIT' | 'ROLLBACK' | 'PREPARE'

// The last statement among a text's results that ended the transaction, and how many results came after it: pg
// answers a text of several statements (`INSERT ...; COMMIT`) with one result each, in an array. Called once the
// session is idle. `PREPARE` is also SQL PREPARE's tag: it counts only when no COMMIT or ROLLBACK ended the
// transaction instead (a SQL PREPARE leaves the transaction as it was). Tags alone cannot tell `ROLLBACK TO
// SAVEPOINT s; PREPARE TRANSACTION 'g'` (prepared) from `ROLLBACK; PREPARE s AS ...` (rolled back): a `PREPARE`
// after the `ROLLBACK` chosen is reported (`preparedAfter`), so the transaction is not said to be rolled back.
function endingCommand(result: pg.QueryResult | readonly pg.QueryResult[]): { command: EndingCommand; followedBy: number; preparedAfter: boolean } | undefined {
  const results: readonly pg.QueryResult[] = Array.isArray(result) ? result : [result as pg.QueryResult]
  const last = (commands: readonly string[]): number => results.findLastIndex((each) => commands.includes(each.command))
  let index = last(['COMMIT', 'ROLLBACK'])
  if (index < 0) index = last(['PREPARE'])
  if (index < 0) return undefined
  const command = results[index]?.command as EndingCommand
  const preparedAfter = command === 'ROLLBACK' && results.slice(index + 1).some((each) => each.command === 'PREPARE')
  return { command, followedBy: results.length - 1 - index, preparedAfter }
}

// `PREPARE TRANSACTION`, not SQL `PREPARE` of a statement (whose failure a savepoint can undo).
function preparesTransaction(text: QueryText): boolean {
  const sql = typeof text === 'string' ? text : (text as { text?: unknown }).text
  return typeof sql === 'string' && /^\s*PREPARE\s+TRANSACTION\b/i.test(sql)
}
