import { OperationContext, type PoolCounters, type PoolMetrics } from '@lifeguard/core'
import { liveOperation, PoolEngine, PoolMonitor, type PooledConnection } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import { PostgresConnectError } from '../errors.js'
import type { QueryText, QueryValues } from '../query-types.js'
import { StatementCancels } from './statement-cancels.js'
import { clientFactory, type ClientHooks } from './client-factory.js'
import { describeConnectFailure } from './connect-failure.js'
import { endGraceMillis, hasStatements, notQueryable, whenDrained } from './end-client.js'
import { connectionTarget, rememberingPasswords } from './connection-target.js'
import { sessionGuard, type SessionGuard } from './pgbouncer-guard.js'
import { clientState, inTransaction, type PooledClient, type ReleaseArgument } from './pooled-client.js'
import { serverOf } from './read-only-server.js'
import { isReadTimeout, releaseArgumentFor, sendQuery } from './run-query.js'
import { queryRefusal } from './query-text.js'
import type { PgPoolSettings } from './settings.js'
import { timedOutClosed } from './row-limit-failure.js'
import { pgQueryClass } from './taken-statement.js'

/** What the `pg.Pool` face listens to, beyond the engine's own events. */
export interface CheckoutHooks extends ClientHooks {
  acquired?(client: PooledClient): void
  /** A client's `release(argument)`: pg.Pool's `'release'` event passes the argument as given. */
  released?(argument: ReleaseArgument, client: PooledClient): void
}

const alreadyReleased = 'Release called on client which has already been released to the pool.'
const releasedInTransaction = 'A client was released inside a transaction (no COMMIT or ROLLBACK), so its connection was closed: the server rolls the transaction back, and no other caller runs in it.'
const neverReady = 'A client was released after a failed statement and the server never said it was ready again (as after a failed query with a row limit, `rows`, where pg sends no Sync), so its connection was closed.'
const releasedWithSubmittable = 'A client was released while a cursor or stream still ran on it (a pg-cursor not closed, a COPY whose other end gave up), so its connection was closed: the next holder would have waited behind it for good.'

// Plain statements (pg's own Query) running or queued on a client that is otherwise fit to go back: waited for
// before it does. Not a cursor or stream, which never ends once its reader is gone (the client is closed).
// Also between a failed statement's error and the server's ready message that follows it: pg has called the
// statement back, and its transaction status is still the one before (an aborted transaction would read idle).
function statementsToWaitFor(client: PooledClient): boolean {
  // The usual release finds nothing running: answered by the first two reads.
  if (!hasStatements(client) && (client as unknown as { readyForQuery?: boolean }).readyForQuery !== false) return false
  const state = client[clientState]
  return !state.broken && !state.timedOut && !notQueryable(client) && !cursorOrStreamPending(client)
}

// The client's own query_timeout (ms), when set.
function clientReadTimeout(client: PooledClient): number | undefined {
  const value = (client as { connectionParameters?: { query_timeout?: unknown } }).connectionParameters?.query_timeout
  return typeof value === 'number' && value > 0 ? value : undefined
}

// pg's statement running on the client was given up at its query_timeout: pg has swapped its callback for one
// that takes no argument ("do nothing if query completes"), where the one it wraps a statement in takes two.
// Read only for a client with its own query_timeout, on which pg wraps every statement: without one, a caller's
// own callback may take no argument. A pg that does this otherwise reads as not given up (the client waits).
function givenUpByPg(client: PooledClient): boolean {
  const active = (client as unknown as { _activeQuery?: { callback?: unknown } | null })._activeQuery
  return typeof active?.callback === 'function' && active.callback.length === 0
}

// A cursor or stream (pg-cursor, pg-query-stream, pg-copy-streams) running or queued on the client: it never
// ends by itself once its reader is gone. pg's own Query, from the client's own pg (`Client.Query`), does: a
// statement left running when the client is given back runs to its end before the client goes back.
function cursorOrStreamPending(client: PooledClient): boolean {
  const { _activeQuery: active, _queryQueue: queued } = client as unknown as { _activeQuery?: object | null; _queryQueue?: object[] }
  if ((active === undefined || active === null) && (queued === undefined || queued.length === 0)) return false
  const Query = pgQueryClass(client)
  if (Query === undefined) return false
  if (active !== undefined && active !== null && !(active instanceof Query)) return true
  return queued?.some((query) => !(query instanceof Query)) === true
}

/**
 * One PostgreSQL pool, whichever face it wears (`PostgresPool` or the `pg.Pool`-compatible `Pool`):
 * core's `PoolEngine` over `pg.Client`, its monitor, and the checkout paths both faces share.
 */
export class PgPoolCore {
  readonly name: string
  readonly target: string
  readonly monitor: PoolMonitor
  readonly engine: PoolEngine<PooledClient>
  /** Statements of the request-scoped handle, cancelled on the server when their operation aborts. */
  readonly cancels = new StatementCancels()
  readonly #hooks: CheckoutHooks
  /** Set behind PgBouncer in transaction mode: refuses statements that need a session of their own. */
  readonly #guard: SessionGuard | undefined

  constructor(given: PgPoolSettings, hooks: CheckoutHooks = {}) {
    const { target, secrets } = connectionTarget(given.clientConfig, given.hosts)
    const settings: PgPoolSettings = { ...given, clientConfig: rememberingPasswords(given.clientConfig, secrets) }
    this.name = settings.name
    this.target = target
    this.#hooks = hooks
    this.monitor = new PoolMonitor({
      name: settings.name,
      kind: 'postgres',
      target,
      events: settings.events,
      leakDetectionMillis: settings.leakDetectionMillis,
      secrets,
      ...(settings.clock === undefined ? {} : { clock: settings.clock }),
    })
    this.#guard = settings.pooler === undefined ? undefined : sessionGuard(settings.name, settings.pooler)
    const factory = clientFactory(settings, hooks, {
      release: (client, argument) => this.releaseClient(client, argument),
      makePermanent: (error) => new PostgresConnectError(settings.name, target, error),
      guard: this.#guard,
      readOnlyRefused: settings.targetSessionAttrs === 'read-write' ? (client) => this.#readOnlyRefused(client) : undefined,
      clock: this.monitor.clock,
    })
    const create = factory.create
    // Name what pg leaves vague ("timeout expired") before the engine reports it.
    factory.create = (attempt) => create(attempt).catch((error: unknown) => Promise.reject(describeConnectFailure(error, settings.connectTimeoutMillis)))
    this.engine = new PoolEngine<PooledClient>({
      name: settings.name,
      target,
      factory,
      monitor: this.monitor,
      minSize: settings.minSize,
      maxSize: settings.maxSize,
      acquireTimeoutMillis: settings.acquireTimeoutMillis,
      connectTimeoutMillis: settings.connectTimeoutMillis,
      connectTimeoutOption: settings.retryCreate ? 'connectTimeoutMillis' : 'connectionTimeoutMillis',
      maxWaitingRequests: settings.maxWaitingRequests,
      idleTimeoutMillis: settings.idleTimeoutMillis,
      maxLifetimeMillis: settings.maxLifetimeMillis,
      maxLifetimeJitterMillis: settings.maxLifetimeJitterMillis,
      validateAfterIdleMillis: settings.validateAfterIdleMillis,
      maxUses: settings.maxUses,
      retryCreate: settings.retryCreate,
    })
    this.monitor.poolCreated(settings.minSize, settings.maxSize)
  }

  /** Redacts an error with this pool's secrets (without counting it). */
  readonly redact = (error: unknown): Error => this.monitor.stats.redact(error)

  /**
   * One query on a client checked out for it: the hot path. An idle client is used at once (one
   * promise for checkout, query and release); otherwise the query waits in line, bounded by the
   * operation's signal (the given one, else the current one) and the acquire timeout. With
   * `cancelOnAbort` (the handle's queries), that operation aborting also cancels the running query. With
   * `first` (a control query), it waits ahead of every other caller.
   */
  query<R extends pg.QueryResultRow>(context: OperationContext | undefined, text: QueryText, values: QueryValues | undefined, cancelOnAbort = false, first = false): Promise<pg.QueryResult<R>> {
    const refusal = queryRefusal(text)
    if (refusal !== undefined) return Promise.reject(refusal)
    if (this.#guard !== undefined) {
      // Refused before a connection is taken for it.
      const refusal = this.#guard(text)
      if (refusal !== undefined) return Promise.reject(refusal)
    }
    context ??= liveOperation()
    const watched = cancelOnAbort ? context : undefined
    const lease = this.engine.tryAcquire(context)
    if (lease !== undefined) return new Promise((resolve, reject) => this.#send(lease, text, values, resolve, reject, watched))
    return new Promise((resolve, reject) => {
      this.engine.request((error, granted) => {
        if (error !== undefined) reject(error)
        else this.#send(granted as PooledConnection<PooledClient>, text, values, resolve, reject, watched)
      }, context, first)
    })
  }

  /** Checks a client out for its caller (`connect()`, transactions); `client.release()` gives it back. */
  checkout(context: OperationContext | undefined): Promise<PooledClient> {
    context ??= liveOperation()
    const lease = this.engine.tryAcquire(context)
    if (lease !== undefined) return Promise.resolve(this.#handOutHeld(lease))
    return new Promise((resolve, reject) => {
      this.engine.request((error, granted) => (error !== undefined ? reject(error) : resolve(this.#handOutHeld(granted as PooledConnection<PooledClient>))), context)
    })
  }

  /**
   * A client's `release()`: pg's contract (a second call throws; a truthy argument closes the connection).
   * Given back with plain statements still running or queued on it, it stays checked out until they end,
   * and is judged then: see `#releaseWhenDrained`.
   */
  releaseClient(client: PooledClient, argument: ReleaseArgument): void {
    const state = client[clientState]
    const lease = state.lease
    if (lease.state !== 'busy' || state.releasePending) {
      // Taken back by a forced close(): the holder's late release is expected and harmless.
      if (lease.revoked) return
      throw new Error(alreadyReleased)
    }
    if (state.holder !== undefined) {
      state.holder.delete(client)
      state.holder = undefined
    }
    // The checkout's own release() is done with: the next holder's code (a lone query's) calls the client's.
    if (state.ownRelease !== undefined && client.release !== state.ownRelease) client.release = state.ownRelease
    state.readOnlyTransaction = false
    const queryError = state.queryError
    state.queryError = undefined
    this.#hooks.released?.(argument ?? queryError, client)
    // As pg-pool: any truthy argument closes the connection (a string, an error of another realm), not an
    // `Error` or `true` only.
    if (argument && argument !== true && !(argument instanceof Error)) argument = true
    // Given back with pg's query_timeout error (a client from connect()): its statement may still run.
    if (argument instanceof Error && isReadTimeout(argument)) state.timedOut = true
    // Given back with the server's ordinary answer to a statement (a syntax error, a constraint), as pg's examples
    // do with any error: closed, as pg-pool closes it, but the failure is the caller's, not the connection's. It
    // is not counted in the pool's `errors` (nor reported as an `error` event); the connection leaves as 'released'.
    else if (argument instanceof Error && releaseArgumentFor(argument) === undefined) argument = true
    if (!argument && statementsToWaitFor(client)) return this.#releaseWhenDrained(client)
    this.#giveBack(client, argument)
  }

  // Given back while plain statements still run or wait on it: `return client.query('COMMIT')` in a `try` whose
  // `finally` releases (an async function's `return` does not wait for it), or a `BEGIN` not awaited. pg's
  // transaction status is still the server's answer to the statement before them: judged on it, a COMMIT under
  // way had its connection closed under it (its caller told 'Connection terminated', the server most likely
  // committed), and a BEGIN went back idle, to wrap the next holder's writes in a transaction rolled back later.
  // So it stays out of the pool until they end, however long they take (a COMMIT waiting on a synchronous
  // replica), and is judged then. A forced close() takes it back as any checked-out client.
  #releaseWhenDrained(client: PooledClient): void {
    const state = client[clientState]
    const lease = state.lease
    state.releasePending = true
    // The holder's checkout ends now: its hold time, leak timer and `release` event are the holder's. The
    // connection still counts as active (it is busy), so totalCount stays activeCount + idleCount + opening.
    const checkout = lease.checkout
    lease.checkout = undefined
    if (checkout !== undefined) this.monitor.released(checkout)
    // A statement pg gave up on at query_timeout, its holder released without that error (`finally {
    // client.release() }`): the server still runs it, and nothing else would stop it (a lock wait, forever). With
    // the client's query_timeout set, pg wraps every statement's callback and, giving up, swaps in one that takes
    // no argument: that tells it, whatever timeout the statement had (a statement's own may be longer). The first
    // look comes when the client's timeout has passed since the release, then one every end grace.
    const releasedAt = state.clock.now()
    const readTimeoutMillis = clientReadTimeout(client)
    const graceMillis = (): number =>
      readTimeoutMillis === undefined ? endGraceMillis : Math.max(1, Math.min(endGraceMillis, releasedAt + readTimeoutMillis - state.clock.now()))
    const wait = (): void =>
      whenDrained(
        client,
        state.clock,
        (drained) => {
          // Unless a close whose timeout ran out took it back meanwhile.
          if (lease.state !== 'busy') return
          let argument: ReleaseArgument
          if (!drained && statementsToWaitFor(client)) {
            // Still running after the grace: given back now, it would be judged on the status before it.
            const givenUp = readTimeoutMillis !== undefined && givenUpByPg(client)
            if (hasStatements(client) && !givenUp) return wait()
            // Closed and cancelled on the server, as after `release(error)` with pg's error (see `#giveBack`).
            if (hasStatements(client)) state.timedOut = true
            // Nothing runs or waits on it, and the server has not said it is ready after a failed statement: after
            // one with a row limit (`rows`), pg sends no Sync, so it never will. Waiting again would hold it for good.
            // (Such a connection is ended as the error comes, see `watchRowLimitFailure`: this is for a pg whose
            // fields that watch cannot read.)
            else argument = new Error(neverReady)
          }
          state.releasePending = false
          this.#giveBack(client, argument)
        },
        graceMillis(),
      )
    wait()
  }

  // Back to the engine, which keeps or closes it; closed instead when the next holder would inherit what it left.
  #giveBack(client: PooledClient, argument: ReleaseArgument): void {
    const state = client[clientState]
    // Never reused: a cancel request for its statement could reach the next holder's.
    if (state.timedOut && !argument) argument = new Error(timedOutClosed)
    // Ended by its holder (`client.end()`) before it was given back: pg refuses its next statement ('Client was
    // closed and is not queryable') while the socket's end is still a round trip away. Closed, as pg-pool does.
    if (!argument && !state.broken && notQueryable(client)) argument = true
    // Given back inside a transaction (`BEGIN` without `COMMIT`, or after a failed statement in one): the next
    // holder's work would run in it, and be rolled back with it. Closed instead; the server rolls it back.
    if (!argument && !state.broken && inTransaction(client)) argument = new Error(releasedInTransaction)
    if (!argument && !state.broken && cursorOrStreamPending(client)) argument = new Error(releasedWithSubmittable)
    this.engine.release(state.lease, argument === false ? undefined : argument)
  }

  /**
   * A release for this checkout only: pg's `done` for the `connect(callback)` form, and the checkout's
   * `client.release`. Called again after the client went to another holder, it throws as pg's does, where a
   * release shared by every checkout of the client would give back the other holder's checkout and hand one
   * session to two callers.
   */
  doneFor(client: PooledClient): (argument?: ReleaseArgument) => void {
    const lease = client[clientState].lease
    const checkout = lease.uses
    return (argument) => {
      if (lease.uses !== checkout) {
        if (lease.revoked) return
        throw new Error(alreadyReleased)
      }
      this.releaseClient(client, argument)
    }
  }

  /**
   * Closes a client whose holder never gave it back before its operation ended. The holder may still be
   * using it (a handler that outlived its response, a stream's producer), so it is not handed to anyone
   * else: the server ends its session, open transaction included, and the holder's late `release()` is
   * ignored, as after a forced `close()`.
   */
  takeBack(client: PooledClient): void {
    client[clientState].lease.revoked = true
    this.releaseClient(client, true)
  }

  /** The refusal for a statement that needs a session of its own behind PgBouncer; undefined when it may run (or no pooler is set). */
  refusal(query: unknown): Error | undefined {
    return this.#guard?.(query)
  }

  /** A snapshot of every `PoolMetrics` field. */
  metrics(): PoolMetrics {
    return this.monitor.snapshot(this.engine.liveState())
  }

  // The server no longer takes writes: every connection to it goes (idle ones now, busy ones on release),
  // and new connections are checked against the target, so they reach the writable server.
  #readOnlyRefused(client: PooledClient): void {
    const server = serverOf(client)
    this.monitor.error(new Error(`The server ${server} refused a write as read-only (25006); closing the pool's connections to it.`), 'connection')
    this.engine.softEvict((other) => serverOf(other) === server)
  }

  /** The live numbers and lifetime counters, nothing sorted. */
  counters(): PoolCounters {
    return this.monitor.counters(this.engine.liveState())
  }

  // A client for a holder (`connect()`, a transaction) gets this checkout's own release(), as pg-pool gives
  // each: a reference kept past it (`stream.on('error', client.release)` firing late) throws rather than give
  // back the next holder's checkout. A lone query's, which no caller sees, keeps the client's own.
  #handOutHeld(lease: PooledConnection<PooledClient>): PooledClient {
    lease.connection.release = this.doneFor(lease.connection)
    return this.#handOut(lease)
  }

  #handOut(lease: PooledConnection<PooledClient>): PooledClient {
    const client = lease.connection
    const acquired = this.#hooks.acquired
    if (acquired === undefined) return client
    // In the operation that asked, as pg.Pool's 'acquire' is: a connection opened for a waiter is handed over
    // from its attempt, which runs outside any operation.
    const context = lease.checkout?.context
    if (context === undefined || context.disposed || OperationContext.tryCurrent() === context) acquired(client)
    else context.run(() => acquired(client))
    return client
  }

  #send<R extends pg.QueryResultRow>(
    lease: PooledConnection<PooledClient>,
    text: QueryText,
    values: QueryValues | undefined,
    resolve: (result: pg.QueryResult<R>) => void,
    reject: (error: unknown) => void,
    watched: OperationContext | undefined,
  ): void {
    sendQuery(this.name, this.#handOut(lease), text, values, resolve, reject, this.redact, this.monitor, this.cancels, watched)
  }
}

