import { ConnectionLostError, OperationAbortedError, type OperationContext } from '@lifeguard/core'
import type { Clock, PoolMonitor } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { QueryText, QueryValues } from '../query-types.js'
import { PostgresQueryTimeoutError, PostgresReadOnlyError, PostgresRollbackError } from '../errors.js'
import { afterCancel, cancelOnClient, noteStatementEnd, releaseAfterCancel } from './cancel-request.js'
import type { StatementCancels } from './statement-cancels.js'
import { activeStatement } from './end-client.js'
import { endsTransaction, queuedCount, statementTaken } from './taken-statement.js'
import { clientState, inTransaction, type PooledClient, type ReleaseArgument } from './pooled-client.js'
import { readOnlyServerOf } from './read-only-server.js'
import { isRowLimitAnswer, noteFailedBeforeSent, refusedBeforeComplete, rowLimitFailure } from './row-limit-failure.js'
import { sqlOperationName } from './sql-operation-name.js'
import { notReady, whenReady } from './server-ready.js'

type QueryCallback = (error: Error | undefined, result: pg.QueryResult<any>) => void

// Errors of the socket itself (not the server's answer to a query).
const socketErrorCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED'])

/**
 * True when a failed query means the connection itself is gone: the server ended the session (a
 * FATAL or PANIC error such as 57P01 on a restart), the socket failed, or the client already knew its
 * connection was broken (but for the server's answer that broke it: see `isRowLimitAnswer`).
 */
export function isConnectionLoss(client: PooledClient, error: unknown): boolean {
  if (client[clientState].broken) return !isRowLimitAnswer(client, error)
  if (error instanceof pg.DatabaseError) return error.severity === 'FATAL' || error.severity === 'PANIC'
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code === 'string' && socketErrorCodes.has(code)) return true
  return error instanceof Error && /^Connection terminated|is not queryable/.test(error.message)
}

/**
 * True for pg's own error when a statement ran past `query_timeout`: pg stopped waiting, but the server
 * still runs the statement (pg sends nothing to stop it).
 */
export function isReadTimeout(error: unknown): boolean {
  return error instanceof Error && !(error instanceof pg.DatabaseError) && error.message === 'Query read timeout'
}

// The `query_timeout` pg applied to `text`: the query config's own, else the client's (pg's own precedence).
function readTimeoutOf(client: PooledClient, text: QueryText | undefined): number | undefined {
  const own = typeof text === 'object' && text !== null ? (text as { query_timeout?: unknown }).query_timeout : undefined
  const value = own || (client as { connectionParameters?: { query_timeout?: unknown } }).connectionParameters?.query_timeout
  return typeof value === 'number' ? value : undefined
}

/**
 * The error a caller gets for a failed statement: the server's own error when it answered (syntax,
 * constraint, ...; redacted), a `ConnectionLostError` when the connection failed, whose cause is the first
 * error the connection reported (the server's 57P01 rather than pg's later "not queryable"), a
 * `PostgresReadOnlyError` when a pool that wants a writable server reached a read-only one, a
 * `PostgresQueryTimeoutError` when it ran past `query_timeout` (`text`: the statement, for its own setting).
 */
export function statementError(pool: string, client: PooledClient, error: unknown, action: string, mayHaveCommitted: boolean, redact: (error: unknown) => Error, text?: QueryText): unknown {
  if (isReadTimeout(error)) return new PostgresQueryTimeoutError(pool, action, readTimeoutOf(client, text), mayHaveCommitted, redact(error))
  const readOnly = readOnlyServerOf(client, error)
  if (readOnly !== undefined) return new PostgresReadOnlyError(pool, action, readOnly, redact(error))
  if (!isConnectionLoss(client, error)) return scrubbedAnswer(error, redact)
  // Marked now: pg may not have flagged the client yet, and what comes next (a transaction's ROLLBACK) must
  // know this connection is gone.
  const state = client[clientState]
  state.broken = true
  // Kept as what broke it: whoever releases the client (a transaction's rollback, a `connect()` holder)
  // reports it as the pool's error, as a lone query's release does.
  const failure = (state.failure ??= error instanceof Error ? error : new Error(String(error)))
  return new ConnectionLostError(pool, action, mayHaveCommitted && !neverRan(error, failure), { cause: redact(failure) })
}

// Fields of the server's answer that name things (a constraint, a table) rather than quote values: kept as the
// server sent them, so that code branching on `error.constraint` works whatever the password is (a short one,
// `orders`, is a part of many names).
const namingFields = ['code', 'severity', 'constraint', 'table', 'column', 'schema', 'dataType', 'routine', 'file', 'line', 'position', 'internalPosition']

/**
 * The server's answer to a statement, scrubbed of secrets: its text may quote a value that was the password.
 * The same object when it quotes nothing secret; else a copy of its class, its text scrubbed, its naming fields
 * as they were.
 */
function scrubbedAnswer(error: unknown, redact: (error: unknown) => Error): unknown {
  const safe = redact(error)
  if (safe === error || typeof error !== 'object' || error === null) return safe
  for (const field of namingFields) {
    if (Object.hasOwn(error, field)) Object.defineProperty(safe, field, { value: (error as Record<string, unknown>)[field], writable: true, enumerable: true, configurable: true })
  }
  return safe
}

// Ends of an idle session: the server sends them only while it waits for the next command, so the
// statement that met one was never read (idle_session_timeout, idle_in_transaction_session_timeout).
const idleSessionEnds = new Set(['57P05', '25P03'])

// PgBouncer's answers (08P01) to a client still waiting for a server connection: its statement was held by
// PgBouncer and never reached a server.
const heldByPooler = /^(query_wait_timeout|server login has been failing|pgbouncer cannot connect to server)/

// True when a failed statement cannot have run: pg refused to send it (its connection was already gone,
// "not queryable"), the server had ended the idle session before it arrived, or PgBouncer never passed it on.
function neverRan(error: unknown, failure: unknown): boolean {
  if (error instanceof Error && /is not queryable/.test(error.message)) return true
  if (!(failure instanceof pg.DatabaseError)) return false
  return idleSessionEnds.has(failure.code ?? '') || (failure.code === '08P01' && heldByPooler.test(failure.message))
}

/**
 * What to pass to `release()` after a failed query: nothing when the server answered with an ordinary
 * error (the connection is fine), the error itself (closing the connection) when the session is over
 * or the failure was not the server's answer at all (a read timeout leaves the protocol state unknown).
 */
export function releaseArgumentFor(error: unknown): Error | undefined {
  if (error instanceof pg.DatabaseError && error.severity !== 'FATAL' && error.severity !== 'PANIC') return undefined
  return error instanceof Error ? error : new Error(String(error))
}

/**
 * Reports a statement that ran on `client` since `startedAt` (a reading of the monitor's clock) as a
 * `query` event, in the operation that holds the client. Call it before the client is released.
 */
export function reportQuery(monitor: PoolMonitor, client: PooledClient, text: QueryText, startedAt: number, error: unknown): void {
  monitor.queried(monitor.clock.now() - startedAt, sqlOperationName(text), error, client[clientState].lease.checkout?.context, (client as { database?: string }).database)
}

// A failure pg raised itself for the statement it runs, not the server's answer (see `noteFailedBeforeSent`). Pg
// clears its running statement before it reports the server's errors and a lost connection's, so those note nothing.
function noteOwnFailure(client: PooledClient, error: unknown): void {
  if (!(error instanceof pg.DatabaseError) && !isReadTimeout(error)) noteFailedBeforeSent(client)
}

/**
 * After pg's `client.query()` threw: true when it had already taken the query as running, with nothing sent
 * (values it cannot even read, such as a revoked proxy), which leaves the connection waiting for good; false
 * when it threw before taking it (a null query, a bad callback). `activeBefore`: what ran before the call.
 */
function stalledByThrow(client: PooledClient, activeBefore: object | undefined): boolean {
  const active = activeStatement(client)
  return active !== undefined && active !== activeBefore
}

/**
 * `client.query(text, values)` on a client the caller holds (a transaction's statements, `BEGIN`,
 * `COMMIT`, `ROLLBACK`), failing with `onError(error, text, taken)` (`taken`: pg's Query for it, when found; see
 * `completedCommands`). Timed and reported as a `query` event only when
 * someone listens. Given `watch` and its operation, the statement is cancelled on the server if that
 * operation aborts while it runs (see `StatementCancels`); one that ran past `query_timeout` is cancelled
 * too, so what the holder sends next (a `ROLLBACK`) does not wait for it.
 */
export function runStatement<R extends pg.QueryResultRow>(
  monitor: PoolMonitor,
  client: PooledClient,
  text: QueryText,
  values: QueryValues | undefined,
  onError: (error: unknown, text: QueryText, taken: object | undefined) => unknown,
  watch?: StatementCancels,
  context?: OperationContext,
): Promise<pg.QueryResult<R>> {
  const startedAt = monitor.events.has('query') ? monitor.clock.now() : undefined
  const watched = watch !== undefined && context !== undefined
  if (watched) watch.started(client, context)
  // pg's callback form: a query pg took and then threw for, or calls back twice for, settles this promise once,
  // and its later answers (the connection closed under it) reject no promise nobody listens to.
  let stuck = false
  // pg's Query for it: what it completed before failing (`COMMIT; SELECT 1/0`) is read from there.
  let taken: object | undefined
  const running = new Promise<pg.QueryResult<R>>((resolve, reject) => {
    const activeBefore = activeStatement(client)
    const queuedBefore = queuedCount(client)
    try {
      ;(client.query as (text: unknown, values: unknown, callback: QueryCallback) => void)(text, values, (error, result) => {
        if (!error) return resolve(result)
        noteOwnFailure(client, error)
        reject(error)
      })
      taken = statementTaken(client, activeBefore, queuedBefore)
    } catch (error) {
      stuck = stalledByThrow(client, activeBefore)
      reject(error)
    }
  })
  const failed = (error: unknown): unknown => {
    noteStatementEnd(client, error)
    if (isReadTimeout(error)) {
      // Cancelled now, so the holder's next statement (a ROLLBACK) does not queue behind it; the client is
      // closed when released.
      client[clientState].timedOut = true
      void cancelOnClient(client)
    }
    const failure = onError(error, text, taken)
    // Closed when given back, and sent nothing more (a ROLLBACK would wait behind the stuck query), as a lost
    // connection; the caller still gets pg's own error. (A failure with a row limit that leaves the session
    // waiting is marked as it arrives: see `watchRowLimitFailure`; or here, where that watch could not be set up.)
    if (stuck) client[clientState].broken = true
    else if (rowLimitUnwatched(client, text, error, taken)) {
      const state = client[clientState]
      state.rowLimitFailed = true
      state.failure ??= rowLimitFailure()
      state.broken = true
    }
    return failure
  }
  if (startedAt === undefined && !watched) return running.catch((error: unknown) => Promise.reject(failed(error)))
  return running.then(
    (result) => {
      if (watched) watch.ended(client)
      if (startedAt !== undefined) reportQuery(monitor, client, text, startedAt, undefined)
      return result
    },
    (error: unknown) => {
      if (watched) watch.ended(client)
      const failure = failed(error)
      if (startedAt !== undefined) reportQuery(monitor, client, text, startedAt, failure)
      return Promise.reject(failure)
    },
  )
}

/**
 * The error for a statement that failed after a cancel request was sent for it because `context` aborted:
 * the operation's reason, typed. Undefined when neither happened (the failure is the statement's own).
 */
export function abortedStatementError(client: PooledClient, context: OperationContext | undefined, action: string): OperationAbortedError | undefined {
  if (context === undefined || client[clientState].cancel === undefined || !context.aborted) return undefined
  // Read only here: the signal is created on first use, and an aborted context's holds its reason.
  return new OperationAbortedError(action, { cause: context.signal.reason })
}

const leftOpen = 'A single query left a transaction open, so its connection was closed. Use transaction() for multi-statement work.'

/**
 * Gives back a client whose query failed, then calls `then` (the caller hears of it once the client is back,
 * as with pg.Pool). Closed when its session is over, when the failure was not the server's answer, or when
 * the query ran past `query_timeout` (see `ClientState.timedOut`); after an ordinary server error, kept once
 * the server is ready again, unless the query left a transaction open. pg reports the error before the
 * server's next word (ReadyForQuery), which alone tells whether a query such as `BEGIN; SELECT 1/0` left its
 * session inside a failed transaction. A query config with `rows` the server refused gets no such word (pg
 * sends no Sync): its client is closed at once (after the end grace where `watchRowLimitFailure` could not be
 * set up).
 */
function releaseAfterFailure(client: PooledClient, error: unknown, clock: Clock, then: () => void): void {
  const state = client[clientState]
  if (isReadTimeout(error)) state.timedOut = true
  // Its socket was ended as the error came (see `watchRowLimitFailure`): closed, for that reason.
  const argument = releaseArgumentFor(error) ?? (state.rowLimitFailed ? (state.failure ?? true) : undefined)
  if (argument !== undefined) return void afterCancel(client, argument).then((settled) => finish(client, settled, then))
  whenReady(client, clock, (ready) => {
    const left = !ready ? new Error(notReady) : inTransaction(client) ? new Error(leftOpen) : undefined
    void afterCancel(client, left).then((settled) => finish(client, settled, then))
  })
}

function finish(client: PooledClient, argument: ReleaseArgument, then: () => void): void {
  client.release(argument)
  then()
}

// True when a text that left a transaction open had a `COMMIT` anywhere: one before its last `BEGIN` committed
// what came before it, and one after it while a transaction is still open can only be `COMMIT AND CHAIN`,
// which committed and began the next. A `PREPARE` counts too (it may be `PREPARE TRANSACTION`: the safe side).
// (Without either, statements before a `BEGIN` in the same text join its transaction, and are rolled back with it.)
function committedSomething(result: pg.QueryResult | readonly pg.QueryResult[]): boolean {
  if (!Array.isArray(result)) return false
  return (result as readonly pg.QueryResult[]).some((each) => endsTransaction(each.command))
}

/**
 * Runs one query on a checked-out client and releases it, settling through the given functions (one
 * promise per query, made by the caller). A connection the query left inside a transaction is closed,
 * never handed to the next caller. Given `watch` and its operation, the query is cancelled on the server
 * if that operation aborts while it runs, and fails with `OperationAbortedError`. One that runs past pg's
 * `query_timeout` fails with `PostgresQueryTimeoutError`; its connection is closed and the statement
 * cancelled on the server (see `ClientState.timedOut`).
 */
export function sendQuery<R extends pg.QueryResultRow>(
  pool: string,
  client: PooledClient,
  text: QueryText,
  values: QueryValues | undefined,
  resolve: (result: pg.QueryResult<R>) => void,
  reject: (error: unknown) => void,
  redact: (error: unknown) => Error,
  monitor: PoolMonitor,
  watch?: StatementCancels,
  context?: OperationContext,
): void {
  // Read only when someone listens, so an unheard query costs one check.
  const startedAt = monitor.events.has('query') ? monitor.clock.now() : undefined
  const watched = watch !== undefined && context !== undefined
  let answered = false
  const done: QueryCallback = (error, result) => {
    // pg calls back twice for values it cannot serialize (a circular object, a throwing toPostgres): with
    // the error, then with a result once the server has answered the Sync it sent after it.
    if (answered) return
    answered = true
    if (watched) watch.ended(client)
    if (error) {
      noteOwnFailure(client, error)
      noteStatementEnd(client, error)
      const failure = abortedStatementError(client, context, `run a query on pool '${pool}'`) ?? statementError(pool, client, error, 'run a query', true, redact, text)
      if (startedAt !== undefined) reportQuery(monitor, client, text, startedAt, failure)
      // The caller hears of it once the client is back, as with pg.Pool.
      // pg.Pool's `release` event carries the query's error, also when the connection stays.
      if (failure instanceof Error) client[clientState].queryError = failure
      releaseAfterFailure(client, error, monitor.clock, () => reject(failure))
      return
    }
    if (inTransaction(client)) {
      // Its text left a transaction open (`BEGIN; INSERT ...`): the connection is closed rather than handed to
      // the next caller inside it, which rolls that work back. A success would say it took effect.
      const failure = new PostgresRollbackError(pool, 'left-open', undefined, committedSomething(result))
      if (startedAt !== undefined) reportQuery(monitor, client, text, startedAt, failure)
      void afterCancel(client, new Error(leftOpen)).then((settled) => finish(client, settled, () => reject(failure)))
      return
    }
    if (startedAt !== undefined) reportQuery(monitor, client, text, startedAt, undefined)
    releaseAfterCancel(client, undefined)
    resolve(result)
  }
  if (client[clientState].broken) {
    // It broke between being handed over and now: nothing was sent, so a retry is safe.
    client.release(client[clientState].failure ?? new Error('The connection broke before the query was sent.'))
    reject(new ConnectionLostError(pool, 'run a query', false, { cause: redact(client[clientState].failure ?? new Error('The connection broke.')) }))
    return
  }
  const activeBefore = activeStatement(client)
  try {
    if (watched) watch.started(client, context)
    ;(client.query as (text: unknown, values: unknown, callback: QueryCallback) => void)(text, values, done)
  } catch (error) {
    // Answered here: a query pg took before throwing fails again when its connection is closed.
    answered = true
    if (watched) watch.ended(client)
    // Closed when pg had taken it: it would never answer again.
    client.release(stalledByThrow(client, activeBefore) ? (error instanceof Error ? error : new Error(String(error))) : undefined)
    reject(error)
  }
}

// A client whose row-limit watch could not be set up (a pg without the fields it reads): the server's refusal
// of a statement with a row limit leaves the session waiting for good (see `refusedBeforeComplete`): marked
// here, so its transaction closes it rather than send a ROLLBACK behind it.
function rowLimitUnwatched(client: PooledClient, text: QueryText, error: unknown, taken: object | undefined): boolean {
  const state = client[clientState]
  if (state.rowLimitWatched || state.broken || state.timedOut || !(error instanceof pg.DatabaseError)) return false
  // pg's Query when it could be found (it knows whether a statement completed), else the query config.
  const query = taken ?? (typeof text === 'object' && text !== null ? (text as object) : undefined)
  return query !== undefined && refusedBeforeComplete(query, error.severity)
}
