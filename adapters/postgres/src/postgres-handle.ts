import { ConnectionLostError, DisposedError, OperationAbortedError, OperationContext } from '@lifeguard/core'
import type * as pg from 'pg'
import { PostgresRollbackError } from './errors.js'
import { isSubmittable, submittableRefused } from './internal/query-text.js'
import type { Pool } from './pool.js'
import type { PostgresPool, PostgresPoolClient } from './postgres-pool.js'
import { beginStatement, endedByStatement, PostgresTransaction, type TransactionOptions } from './postgres-transaction.js'
import { cancelOnClient, mayBeRunning, releaseAfterCancel } from './internal/cancel-request.js'
import { clientState, type PooledClient } from './internal/pooled-client.js'
import { runsCommit } from './internal/statement-cancels.js'
import { awaitingReady, readyAfterError } from './internal/server-ready.js'
import { checkOption, contextRule, liveOperation } from '@lifeguard/core/adapter'
import { abortedStatementError, runStatement, statementError } from './internal/run-query.js'
import { RollbackBound, rollbackAndRelease } from './internal/rollback.js'
import type { QueryText, QueryValues } from './query-types.js'
import { finishTransaction, poolCore } from './internal/symbols.js'

/** Either PostgreSQL pool: `createPostgresPool()`'s or the `pg.Pool`-compatible `Pool`. */
export type AnyPostgresPool = PostgresPool | Pool

/**
 * One operation's way into a `PostgresPool`: `query()` checks a client out per query, `transaction()`
 * holds one for its callback, `connect()` holds one until released. Whatever it still holds when it is
 * disposed (the operation's scope ends) is given back, after a `ROLLBACK` if a transaction is open, so
 * a handler that forgets cannot leak. The operation aborting (client gone, deadline, the caller's signal,
 * `abort()`) ends a wait for a client and cancels a running statement on the server.
 */
export class PostgresHandle implements AsyncDisposable {
  /** The pool it checks out from. */
  readonly pool: AnyPostgresPool
  /** The operation it belongs to (its signal bounds every wait), if any. */
  readonly context: OperationContext | undefined
  /** Clients held by `connect()` (value undefined) and `transaction()` (value: its transaction). */
  #held: Map<PooledClient, PostgresTransaction | undefined> | undefined
  /** ROLLBACKs `transaction()` sent after its callback failed, until answered (see `#rollBack`). */
  #rollingBack: Map<RollbackBound, PendingRollback> | undefined
  #disposing: Promise<void> | undefined

  /** @internal use `createPostgresHandle()` or `registerPostgres()` */
  constructor(pool: AnyPostgresPool, context?: OperationContext) {
    this.pool = pool
    this.context = context
  }

  /** Clients this handle holds now (from `connect()` and open transactions). */
  get heldCount(): number {
    return this.#held?.size ?? 0
  }

  /** True once disposed. */
  get disposed(): boolean {
    return this.#disposing !== undefined
  }

  /**
   * Runs one query on a client checked out for it.
   *
   * @throws {InvalidOptionError} for anything but SQL text or a query config: a cursor or stream runs on a
   *   client from `connect()`
   * @throws {PoolTimeoutError | PoolExhaustedError} while waiting for a client
   * @throws {OperationAbortedError} when the operation aborted while waiting, or while the query ran (it is
   *   cancelled on the server; cause: the operation's abort reason)
   * @throws {ConnectionLostError} when the connection failed under the query (cause: the server's error)
   * @throws {PostgresQueryTimeoutError} when it ran past `query_timeout` (it is cancelled on the server)
   * @throws {PostgresRollbackError} when its text left a transaction open (`BEGIN; INSERT ...`): its connection is
   *   closed and the server rolls that transaction back (`reason: 'left-open'`)
   * @throws {DisposedError} after the handle was disposed
   * @example
   * const { rows } = await context.postgres.query('SELECT * FROM orders WHERE id = $1', [id])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>> {
    if (this.#disposing !== undefined) return Promise.reject(this.#disposedError('run a query'))
    // (Anything that is no query is refused by the pool's `query`, before a checkout.)
    // It would hold its connection for good, and the handle's disposal would wait on it for good.
    if (isSubmittable(text)) return Promise.reject(submittableRefused(`run the query on pool '${this.pool.name}'`, 'take one with `connect()` and pass it to `client.query()`'))
    return this.pool[poolCore].query<R>(this.context, text, values, true)
  }

  /**
   * Runs `fn` in a transaction on one client: `BEGIN`, then `COMMIT` when `fn` resolves, `ROLLBACK`
   * when it throws (the error is rethrown). Returns what `fn` returns.
   *
   * @throws {InvalidOptionError} for bad options, or an `fn` that is not a function (before any checkout)
   * @throws {OperationAbortedError} when the operation aborts before the transaction commits: a running statement
   *   is cancelled on the server and the transaction rolled back, never committed (unless `fn`'s own `COMMIT` or
   *   `PREPARE TRANSACTION` had ended it: then that is what is said)
   * @throws {DisposedError} when the handle is disposed before the transaction commits (a running statement is
   *   cancelled, the transaction rolled back; the same exception)
   * @throws {ConnectionLostError} when the connection failed: `mayHaveCommitted` is false (safe to retry the
   *   whole transaction) unless it failed during `COMMIT`
   * @throws {PostgresRollbackError} when the server answered `COMMIT` with `ROLLBACK`: a statement in `fn` failed
   *   and `fn` caught it, so the server had aborted the transaction; or `fn` ended it with a `ROLLBACK` of its own.
   *   Also, with no `COMMIT` sent, when a statement `fn` caught ran past `query_timeout` (`'query-timeout'`) or was
   *   a row-limited one the server refused (`'statement-failed'`).
   *   (`fn`'s own `COMMIT` or `PREPARE TRANSACTION` ends it too, and `transaction()` resolves.) `mayHaveCommitted`
   *   is true when it may have taken effect: a statement `fn` caught failed after a `COMMIT` or `PREPARE` in the
   *   same text (`'failed-after-commit'`), statements followed `fn`'s `ROLLBACK` in the same text
   *   (`'ran-after-rollback'`), or a `PREPARE` did (`'maybe-prepared'`: after `ROLLBACK TO SAVEPOINT`, it may be a
   *   `PREPARE TRANSACTION` that prepared the transaction).
   * @example
   * const id = await context.postgres.transaction(async (tx) => {
   *   const { rows } = await tx.query('INSERT INTO orders (total) VALUES ($1) RETURNING id', [total])
   *   await tx.query('INSERT INTO order_events (order_id) VALUES ($1)', [rows[0].id])
   *   return rows[0].id
   * }, { isolationLevel: 'serializable' })
   */
  async transaction<T>(fn: (tx: PostgresTransaction) => T | Promise<T>, options?: TransactionOptions): Promise<T> {
    checkOption('transaction', 'fn', fn, { type: 'function' })
    const begin = beginStatement(options)
    const core = this.pool[poolCore]
    const client = await this.#checkout('start a transaction')
    // Disposed in the turn between its checkout and here: the disposal took the client back.
    if (this.#held?.has(client) !== true) throw this.#disposedError('start a transaction')
    // Its refused writes are the caller's doing, not a sign that the server was demoted.
    if (options?.readOnly === true) client[clientState].readOnlyTransaction = true
    const operation = this.context ?? liveOperation()
    // Begun while its operation is being disposed, it is cleanup (a disposer releasing what the operation held):
    // an abort that came before is not its to honour, and none can come after, so it is not watched for one.
    const context = operation?.disposed === true ? undefined : operation
    // Aborted while its checkout was granted: nothing has begun, so nothing is rolled back.
    if (context?.aborted) {
      client.release()
      throw new OperationAbortedError(`start a transaction on pool '${core.name}'`, { cause: context.signal.reason })
    }
    const tx = new PostgresTransaction(client, core, context)
    this.#hold(client, tx)
    let result: T
    try {
      // Watched like the callback's statements: an operation that aborts while BEGIN waits (a server out of
      // reach) cancels it, and gives it up if it stays unanswered.
      const starting = (error: unknown): unknown => abortedStatementError(client, context, `start a transaction on pool '${core.name}'`) ?? statementError(core.name, client, error, 'start a transaction', false, core.redact)
      await runStatement(core.monitor, client, begin, undefined, starting, core.cancels, context)
      // Aborted, or the handle disposed, while BEGIN ran and was answered before its cancel landed: `fn` does not
      // start. What it does before its first statement (a call to a payment service) would run for nothing.
      if (context?.aborted) throw new OperationAbortedError(`start a transaction on pool '${core.name}'`, { cause: context.signal.reason })
      if (this.#held?.get(client) !== tx) throw this.#disposedError('start a transaction')
      result = await fn(tx)
      tx[finishTransaction]()
      // A statement of `fn` that failed is handed over before pg reads the session's status after it, which alone
      // says whether it ended the transaction (a COMMIT refused, `UPDATE ...; COMMIT` failing at its COMMIT).
      if (awaitingReady(client)) await readyAfterError(client)
      // What `fn`'s own statements did is said first: a transaction they committed (or prepared) took effect,
      // whatever befell the operation or the handle after. A text that ended it with a `COMMIT` (or a `PREPARE
      // TRANSACTION`) and then failed, its error caught by `fn` (`COMMIT; SELECT 1/0`): what came after (a failure,
      // a timeout, a lost connection) came after the transaction took effect. A `COMMIT` or `PREPARE TRANSACTION`
      // of its own: it stands (a COMMIT now would only draw the server's warning), and COMMIT PREPARED or ROLLBACK
      // PREPARED is the caller's to send.
      const committed = tx.failedAfterCommit
      if (committed !== undefined) throw new PostgresRollbackError(core.name, 'failed-after-commit', committed.failure, true)
      // `fn`'s own `COMMIT` (`END`, `PREPARE TRANSACTION`) got no answer (`query_timeout`, a lost connection, given
      // up after an abort): it may have taken effect, as `transaction()`'s own COMMIT may, and its error says so.
      const unknown = tx.commitUnknown
      if (unknown !== undefined) throw unknown.failure
      if (tx.endedWith === 'COMMIT' || tx.endedWith === 'PREPARE') {
        if (this.#take(client, tx)) releaseAfterCancel(client, undefined)
        return result
      }
      // Disposed meanwhile: the client went back (rolled back); committing now would touch someone else's.
      if (this.#held?.get(client) !== tx) throw this.#disposedError('commit the transaction')
      // An operation that aborted (a deadline that passed, a client gone) wants none of it.
      if (context?.aborted) throw new OperationAbortedError(`commit the transaction on pool '${core.name}'`, { cause: context.signal.reason })
      const state = client[clientState]
      // Whatever rolls it back now, a `COMMIT` of `fn` that began the next transaction (`COMMIT AND CHAIN`, `COMMIT;
      // BEGIN`) committed what came before it.
      const earlier = tx.committedEarlier
      // A statement ran past query_timeout and `fn` caught it: it may have finished before its cancel landed,
      // but its error said the transaction rolls back, so it does. (Checked before a broken connection: the
      // cancel's answer to a statement with a row limit ends the connection, for the same reason.)
      if (state.timedOut) throw new PostgresRollbackError(core.name, 'query-timeout', tx.firstFailure, earlier)
      // The server refused a statement with a row limit and `fn` caught it: the server had aborted the transaction,
      // and the session takes no COMMIT (see `ClientState.rowLimitFailed`).
      if (state.rowLimitFailed) throw new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      // Lost meanwhile (a statement that `fn` caught met it): the server has rolled back, and a COMMIT sent now
      // would fail as if it might have committed.
      if (state.broken) throw new ConnectionLostError(core.name, 'commit the transaction', earlier, { cause: core.redact(state.failure ?? new Error('The connection broke.')) })
      // `fn`'s own COMMIT or PREPARE TRANSACTION was answered with ROLLBACK: rolled back (a transaction `COMMIT AND
      // CHAIN` began after it is rolled back too).
      if (tx.commitRefused) throw tx.ranAfterEnd ? new PostgresRollbackError(core.name, 'ran-after-rollback') : new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      // `fn` ended it with a statement of its own other than a COMMIT or PREPARE TRANSACTION (see above): its
      // ROLLBACK (`ROLLBACK AND CHAIN` too: the transaction it began is rolled back), or a statement that failed
      // ending it (a refused COMMIT or PREPARE TRANSACTION; `ROLLBACK; SELECT 1/0`). Nothing was committed, unless
      // statements after that ROLLBACK in the same text ran outside the transaction, a PREPARE TRANSACTION after it
      // may have prepared the transaction (the server tags ROLLBACK TO SAVEPOINT as ROLLBACK), or a COMMIT before it.
      if (tx.endedWith === 'ROLLBACK' || endedByStatement(client)) throw rolledBackByFn(core.name, tx, earlier)
      // Watched, not cancelled: an operation that aborts while it runs gives it up only if the server stays silent.
      client[clientState].committing = true
      // The server's warning that no transaction was in progress: a statement `fn` did not wait for ended it first.
      let noTransaction = false
      const onNotice = (notice: { code?: string | undefined }): void => void (notice.code === '25P01' && (noTransaction = true))
      client.on('notice', onNotice)
      const commit = await runStatement(core.monitor, client, 'COMMIT', undefined, (error) => statementError(core.name, client, error, 'commit the transaction', true, core.redact), core.cancels, context).finally(() => {
        client[clientState].committing = false
        client.off('notice', onNotice)
      })
      // The server had aborted the transaction (a failed statement that `fn` caught): its COMMIT is a ROLLBACK.
      if (commit.command === 'ROLLBACK') {
        if (this.#take(client, tx)) releaseAfterCancel(client, undefined)
        throw new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      }
      // A statement `fn` did not wait for (`void tx.query('ROLLBACK')`, a COMMIT of its own that the server refused)
      // ended the transaction before this COMMIT ran, which the server then answered with a warning and the tag
      // COMMIT: nothing was committed by it. (Their answers came first, and were read as they came.)
      // Told by what those statements answered (their answers came first, and were read as they came), and, for a
      // COMMIT of `fn` that the server refused, by the warning (a server set to `client_min_messages = error` sends
      // none). `ROLLBACK AND CHAIN` draws no warning: the transaction it began took this COMMIT.
      if (tx.commitRefused) throw tx.ranAfterEnd ? new PostgresRollbackError(core.name, 'ran-after-rollback') : new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      if (tx.endedWith === 'ROLLBACK') throw rolledBackByFn(core.name, tx, earlier)
      if (noTransaction && tx.endedWith !== 'COMMIT' && tx.endedWith !== 'PREPARE') {
        if (tx.ranAfterEnd) throw new PostgresRollbackError(core.name, 'ran-after-rollback')
        throw new PostgresRollbackError(core.name, tx.firstFailure === undefined ? 'rolled-back-in-fn' : 'statement-failed', tx.firstFailure, earlier)
      }
    } catch (error) {
      tx[finishTransaction]('callback-failed')
      if (this.#take(client, tx)) {
        // A statement of `fn` still running (`fn` threw without awaiting it) would hold the ROLLBACK, and its
        // locks, until it ended: cancelled first, as at disposal.
        // (Not a COMMIT of `fn`'s: one is never cut short.)
        // Not when the server has aborted the transaction already (a failed statement among several `fn` ran at
        // once): those still queued fail at once (25P02), and a cancel request would only cost the connection.
        const state = client[clientState]
        if (!state.broken && !state.timedOut && mayBeRunning(client) && !runsCommit(client) && !tx.abortedOnServer) void cancelOnClient(client, true)
        // Aborted, the callback's own cleanup was refused: closed after its rollback (see `rollbackAndRelease`).
        await this.#rollBack(client, context?.aborted === true, context)
      }
      throw error
    }
    if (this.#take(client, tx)) releaseAfterCancel(client, undefined)
    return result
  }

  /**
   * Checks out a client held until `client.release()`, or until the handle is disposed, which closes it
   * rather than hand it to another operation (see `dispose()`).
   *
   * @throws {DisposedError} after the handle was disposed
   * @example
   * const client = await context.postgres.connect()
   * await client.query('LISTEN orders') // (not through PgBouncer in transaction mode)
   */
  async connect(): Promise<PostgresPoolClient> {
    return this.#checkout('check out a client')
  }

  /**
   * Gives back everything still held: a running `transaction()` after `ROLLBACK`, a client from `connect()` by
   * closing it (its holder may still be using it). Idempotent; never throws.
   */
  dispose(): Promise<void> {
    this.#disposing ??= this.#dispose()
    return this.#disposing
  }

  /** `await using db = createPostgresHandle(pool)` disposes it at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.dispose()
  }

  async #checkout(action: string): Promise<PooledClient> {
    if (this.#disposing !== undefined) throw this.#disposedError(action)
    const client = await this.pool[poolCore].checkout(this.context)
    if (this.#disposing !== undefined) {
      client.release()
      throw this.#disposedError(action)
    }
    // Held at once: a disposal in the turn before the caller resumes takes it back, as any client held.
    this.#hold(client, undefined)
    return client
  }

  #hold(client: PooledClient, tx: PostgresTransaction | undefined): void {
    const held = (this.#held ??= new Map())
    held.set(client, tx)
    // The pool removes it from here when the client is released, whoever releases it.
    client[clientState].holder = held
  }

  // Whoever takes a client out of `#held` first is the one who gives it back.
  #take(client: PooledClient, tx: PostgresTransaction | undefined): boolean {
    const held = this.#held
    if (held === undefined || !held.has(client) || held.get(client) !== tx) return false
    held.delete(client)
    return true
  }

  // A ROLLBACK after the callback failed is bounded once its operation aborts, and once this handle is disposed:
  // an operation that ends without aborting (a handler that did not await `transaction()`), or a handle with no
  // operation, left it unbounded, and its client out of the pool, on a server gone silent. (Not by the disposal
  // when it queues behind a COMMIT of the callback's own, which the disposal waits for as it does at once.)
  async #rollBack(client: PooledClient, close: boolean, context: OperationContext | undefined): Promise<void> {
    const bound = new RollbackBound(client)
    const rollingBack = (this.#rollingBack ??= new Map())
    const behindCommit = runsCommit(client)
    const done = rollbackAndRelease(client, this.pool[poolCore].monitor, close, context, bound)
    rollingBack.set(bound, { done, behindCommit })
    try {
      await done
    } finally {
      rollingBack.delete(bound)
    }
  }

  async #dispose(): Promise<void> {
    const held = this.#held
    const core = this.pool[poolCore]
    // Queries of the operation still running, unawaited (a handler that returned without waiting): they run to
    // their end, as a statement left running by a pg.Pool client does, and the disposal waits for them, so
    // their connections are back when it is done. (An aborted operation's were cancelled on its abort.)
    const queries = this.context === undefined ? undefined : core.cancels.whenEnded(this.context, held)
    const rollingBack = this.#rollingBack
    if ((held === undefined || held.size === 0) && (rollingBack === undefined || rollingBack.size === 0)) return queries
    // ROLLBACKs under way are bounded from now and waited for, for the same reason.
    const rollbacks = rollingBack === undefined ? [] : [...rollingBack]
    for (const [bound, { behindCommit }] of rollbacks) if (!behindCommit) bound.start()
    const entries = held === undefined ? [] : [...held]
    held?.clear()
    await Promise.all([
      queries,
      ...rollbacks.map(([, { done }]) => done.catch(() => undefined)),
      ...entries.map(([client, tx]) => {
        // A transaction() refuses its late statements once finished, so its client can be rolled back and
        // reused (it may still be sending BEGIN: roll back whenever one was started).
        if (tx !== undefined) {
          // Finished already: it is committing, which must not be cut short. Nor is a COMMIT of the callback's own
          // (`tx.query('COMMIT')` left unawaited): cancelled, it may or may not have taken effect.
          const finished = tx.finished
          const committing = finished || runsCommit(client)
          tx[finishTransaction]()
          // A running statement would hold the ROLLBACK (and its locks) until it ended: cancelled first.
          if (!committing && !client[clientState].broken && mayBeRunning(client)) void cancelOnClient(client, true)
          // (A COMMIT under way is waited for as its operation's abort left it: the ROLLBACK queued behind it is not
          // bounded. Closed after it unless it is transaction()'s own: the callback's cleanup may have been refused.)
          return rollbackAndRelease(client, core.monitor, !finished, committing ? undefined : 'ended')
        }
        // A client from connect() still held has no such guard: reused, its holder's late statements would
        // run in another operation's session. It is closed instead (see `takeBack`).
        core.takeBack(client)
        return undefined
      }),
    ])
  }

  #disposedError(action: string): DisposedError {
    return new DisposedError(`Could not ${action} on pool '${this.pool.name}'. The handle is disposed (its operation has ended).`)
  }
}

/** A ROLLBACK under way, and whether it queued behind a COMMIT of the callback's own. */
interface PendingRollback {
  done: Promise<void>
  behindCommit: boolean
}

/**
 * A handle on `pool` for one operation (or for a block: `await using db = createPostgresHandle(pool)`).
 * `registerPostgres()` creates one per operation scope for you.
 *
 * @throws {InvalidOptionError} for a pool of the wrong kind, or a context that is not an `OperationContext`
 * @example
 * await using db = createPostgresHandle(pool)
 * await db.query('SELECT 1')
 */
export function createPostgresHandle(pool: AnyPostgresPool, context?: OperationContext): PostgresHandle {
  checkPostgresPool('createPostgresHandle', pool)
  checkOption('createPostgresHandle', 'context', context, { ...contextRule, optional: true })
  return new PostgresHandle(pool, context)
}

/**
 * Refuses anything but a pool of this package (`createPostgresPool()` or `new Pool()`), when it is given
 * rather than on the handle's first use.
 *
 * @throws {InvalidOptionError} naming `pool`
 */
export function checkPostgresPool(where: string, pool: unknown): void {
  checkOption(where, 'pool', pool, { type: 'custom', expected: 'a pool from createPostgresPool() or new Pool()', check: (v) => typeof v === 'object' && v !== null && poolCore in v })
}

// `fn` ended the transaction with a statement of its own other than a COMMIT or PREPARE TRANSACTION: its ROLLBACK,
// or a statement that failed ending it. Nothing was committed, unless statements after that ROLLBACK in the same
// text ran outside the transaction, or a PREPARE TRANSACTION after it may have prepared it, or a COMMIT before it.
function rolledBackByFn(pool: string, tx: PostgresTransaction, earlier: boolean): PostgresRollbackError {
  if (tx.preparedAfterEnd) return new PostgresRollbackError(pool, 'maybe-prepared')
  if (tx.ranAfterEnd) return new PostgresRollbackError(pool, 'ran-after-rollback')
  const failed = tx.endedWith === undefined && tx.firstFailure !== undefined
  return failed ? new PostgresRollbackError(pool, 'statement-failed', tx.firstFailure, earlier) : new PostgresRollbackError(pool, 'rolled-back-in-fn', undefined, earlier)
}
