import { ConnectionLostError, DisposedError, OperationAbortedError, OperationContext } from '@lifeguard/core'
import type * as pg from 'pg'
import { PostgresRollbackError } from './errors.js'
import { isQueryText, isSubmittable, notAQuery, submittableRefused } from './internal/query-text.js'
import type { Pool } from './pool.js'
import type { PostgresPool, PostgresPoolClient } from './postgres-pool.js'
import { beginStatement, endedByStatement, PostgresTransaction, type TransactionOptions } from './postgres-transaction.js'
import { afterCancel, cancelOnClient, closeIfUnanswered, mayBeRunning, releaseAfterCancel } from './internal/cancel-request.js'
import { clientState, type PooledClient } from './internal/pooled-client.js'
import { runsCommit } from './internal/statement-cancels.js'
import { awaitingReady, readyAfterError } from './internal/server-ready.js'
import { checkOption, contextRule, liveOperation, watchAbort, type PoolMonitor } from '@lifeguard/core/adapter'
import { abortedStatementError, releaseArgumentFor, runStatement, statementError } from './internal/run-query.js'
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
    if (!isQueryText(text)) return Promise.reject(notAQuery())
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
      if (tx.commitRefused) throw new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      // `fn` ended it with a statement of its own other than a COMMIT or PREPARE TRANSACTION (see above): its
      // ROLLBACK (`ROLLBACK AND CHAIN` too: the transaction it began is rolled back), or a statement that failed
      // ending it (a refused COMMIT or PREPARE TRANSACTION; `ROLLBACK; SELECT 1/0`). Nothing was committed, unless
      // statements after that ROLLBACK in the same text ran outside the transaction, a PREPARE TRANSACTION after it
      // may have prepared the transaction (the server tags ROLLBACK TO SAVEPOINT as ROLLBACK), or a COMMIT before it.
      if (tx.endedWith === 'ROLLBACK' || endedByStatement(client)) {
        if (tx.preparedAfterEnd) throw new PostgresRollbackError(core.name, 'maybe-prepared')
        if (tx.ranAfterEnd) throw new PostgresRollbackError(core.name, 'ran-after-rollback')
        const failed = tx.endedWith === undefined && tx.firstFailure !== undefined
        throw failed ? new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier) : new PostgresRollbackError(core.name, 'rolled-back-in-fn', undefined, earlier)
      }
      // Watched, not cancelled: an operation that aborts while it runs gives it up only if the server stays silent.
      client[clientState].committing = true
      const commit = await runStatement(core.monitor, client, 'COMMIT', undefined, (error) => statementError(core.name, client, error, 'commit the transaction', true, core.redact), core.cancels, context).finally(() => {
        client[clientState].committing = false
      })
      // The server had aborted the transaction (a failed statement that `fn` caught): its COMMIT is a ROLLBACK.
      if (commit.command === 'ROLLBACK') {
        if (this.#take(client, tx)) releaseAfterCancel(client, undefined)
        throw new PostgresRollbackError(core.name, 'statement-failed', tx.firstFailure, earlier)
      }
    } catch (error) {
      tx[finishTransaction]('callback-failed')
      if (this.#take(client, tx)) {
        // A statement of `fn` still running (`fn` threw without awaiting it) would hold the ROLLBACK, and its
        // locks, until it ended: cancelled first, as at disposal.
        // (Not a COMMIT of `fn`'s: one is never cut short.)
        const state = client[clientState]
        if (!state.broken && !state.timedOut && mayBeRunning(client) && !runsCommit(client)) void cancelOnClient(client, true)
        // Aborted, the callback's own cleanup was refused: closed after its rollback (see `rollbackAndRelease`).
        await rollbackAndRelease(client, core.monitor, context?.aborted === true, context)
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
    const client = await this.#checkout('check out a client')
    this.#hold(client, undefined)
    return client
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

  async #dispose(): Promise<void> {
    const held = this.#held
    const core = this.pool[poolCore]
    // Queries of the operation still running, unawaited (a handler that returned without waiting): they run to
    // their end, as a statement left running by a pg.Pool client does, and the disposal waits for them, so
    // their connections are back when it is done. (An aborted operation's were cancelled on its abort.)
    const queries = this.context === undefined ? undefined : core.cancels.whenEnded(this.context, held)
    if (held === undefined || held.size === 0) return queries
    const entries = [...held]
    held.clear()
    await Promise.all(
      [queries, ...entries.map(([client, tx]) => {
        // A transaction() refuses its late statements once finished, so its client can be rolled back and
        // reused (it may still be sending BEGIN: roll back whenever one was started).
        if (tx !== undefined) {
          // Finished already: it is committing, which must not be cut short.
          const committing = tx.finished
          tx[finishTransaction]()
          // A running statement would hold the ROLLBACK (and its locks) until it ended: cancelled first.
          if (!committing && !client[clientState].broken && mayBeRunning(client)) void cancelOnClient(client, true)
          // (A COMMIT under way is waited for as its operation's abort left it: the ROLLBACK queued behind it is not bounded.)
          return rollbackAndRelease(client, core.monitor, !committing, committing ? undefined : 'ended')
        }
        // A client from connect() still held has no such guard: reused, its holder's late statements would
        // run in another operation's session. It is closed instead (see `takeBack`).
        core.takeBack(client)
        return undefined
      })],
    )
  }

  #disposedError(action: string): DisposedError {
    return new DisposedError(`Could not ${action} on pool '${this.pool.name}'. The handle is disposed (its operation has ended).`)
  }
}

/**
 * Rolls back `client`'s transaction and gives it back. With `close`, it is closed after the rollback rather than
 * reused: a transaction whose operation aborted or ended under it had its callback's cleanup refused
 * (`finally { await tx.query('SELECT pg_advisory_unlock(...)') }`), and what a ROLLBACK leaves in the session
 * (session advisory locks, SQL `PREPARE`) would reach the next holder. The ROLLBACK is still sent: queued behind
 * a statement being cancelled, it waits for it with the cancel's resends and give-up, which a close now would cut.
 *
 * `bound`: the operation whose deadline bounds the ROLLBACK (see `boundRollback`), or `'ended'` when it is over.
 */
async function rollbackAndRelease(client: PooledClient, monitor: PoolMonitor, close = false, bound?: OperationContext | 'ended'): Promise<void> {
  const state = client[clientState]
  // A lost connection has nothing to roll back (the server already did): just close it. (A statement that
  // found it lost marked it broken: see `statementError`; so did the server refusing a statement with a row
  // limit, whose session would never take the ROLLBACK: see `watchRowLimitFailure`.)
  if (state.broken) return client.release(state.failure ?? true)
  // A statement past query_timeout may still run, its cancel unanswered (a server gone silent): a ROLLBACK would
  // queue behind it for good. The connection is closed instead, as it would be anyway (see `ClientState.timedOut`),
  // and the server rolls back; `release()` reports why.
  if (state.timedOut) return client.release()
  let failure: Error | undefined
  const unbound = boundRollback(client, bound)
  try {
    // Sent after whatever runs now (cancelled, when the operation aborted or ended: see `cancelOnClient`).
    await runStatement(monitor, client, 'ROLLBACK', undefined, (error) => error)
  } catch (error) {
    // The connection cannot be trusted with an unknown transaction state: close it.
    failure = releaseArgumentFor(error) ?? (error as Error)
  } finally {
    unbound()
  }
  // Cancel requests still under way are delivered first: one must never reach the next holder's statement.
  const argument = await afterCancel(client, failure)
  client.release(close ? argument || true : argument)
}

/**
 * Bounds a ROLLBACK as an operation's abort bounds its COMMIT: once the operation has aborted or ended, a ROLLBACK
 * still unanswered 2 s later closes its connection, and the server rolls back on its own. Without it, a server
 * gone silent (a partition, a stalled proxy) held `transaction()` and its caller until TCP gave up. Not cancelled:
 * a ROLLBACK is quick wherever the server answers. Returns the function that lifts the bound.
 */
function boundRollback(client: PooledClient, bound: OperationContext | 'ended' | undefined): () => void {
  if (bound === undefined) return noBound
  if (bound === 'ended' || bound.aborted || bound.disposed) return closeIfUnanswered(client)
  let lift: (() => void) | undefined
  let over = false
  // The operation's own abort watch, not its signal: a signal made here would cost every such operation an
  // AbortController. The watcher stays with the operation; once the ROLLBACK is answered it does nothing.
  watchAbort(bound, () => {
    if (!over) lift ??= closeIfUnanswered(client)
  })
  return () => {
    over = true
    lift?.()
  }
}

function noBound(): void {}

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
