import {
  type ManagedPool,
  type PoolEventMap,
  type PoolEventName,
  type PoolCounters,
  type PoolEventSource,
  type PoolMetrics,
  type PoolSize,
  type PoolState,
  type ResizeOptions,
  type SoftEvictReport,
  type WarmupOptions,
  type WarmupReport,
} from '@lifeguard/core'
import { checkOption, controlQuery, outsideOperations } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import { PgPoolCore } from './internal/pool-core.js'
import { resolveOptions } from './internal/resolve-options.js'
import { checkCallback, isSubmittable, notAQuery, submittableRefused } from './internal/query-text.js'
import { poolCore } from './internal/symbols.js'
import type { PostgresPoolOptions } from './options.js'
import type { QueryText, QueryValues } from './query-types.js'

/** A client checked out of a PostgreSQL pool: a `pg.PoolClient`; call `release()` exactly once. */
export type PostgresPoolClient = pg.PoolClient

/** pg's callback for `connect(callback)`. */
export type ConnectCallback = (error: Error | undefined, client: PostgresPoolClient | undefined, done: (release?: Error | boolean) => void) => void

const noop = (): void => {}

// Like pg.Pool, never calls back before the caller's own call returns.
function callBackLater(callback: (error: Error) => void, error: Error): void {
  queueMicrotask(() => callback(error))
}

/**
 * A PostgreSQL pool on core's pool engine over `pg.Client`: bounded and abortable waiting, live
 * resizing, metrics, lifecycle events and leak detection. It also answers `connect()`, `query()` and
 * `end()` like a `pg.Pool`, so libraries that take one (Kysely's `PostgresDialect`, ...) can take it
 * directly. Create it with `createPostgresPool()`; for a drop-in `pg.Pool` replacement see `Pool`.
 */
export class PostgresPool implements ManagedPool {
  /** Unique in its registry, e.g. `'orders'`. */
  readonly name: string
  /** Always `'postgres'`. */
  readonly kind = 'postgres'
  /** Where it connects, without credentials: `postgres://app@db:5432/orders` (several hosts: `db1:5432,db2:5432`). */
  readonly target: string
  readonly #core: PgPoolCore
  /** @internal the pool core, for the request-scoped handle (a getter, so `util.inspect` does not walk it). */
  get [poolCore](): PgPoolCore {
    return this.#core
  }

  /** @internal use `createPostgresPool()` */
  constructor(options: PostgresPoolOptions) {
    const core = new PgPoolCore(resolveOptions(options))
    this.#core = core
    this.name = core.name
    this.target = core.target
  }

  /** `PostgresPool 'orders' (postgres://app@db:5432/orders)`: never the password. */
  toString(): string {
    return `PostgresPool '${this.name}' (${this.target})`
  }

  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`. */
  get state(): PoolState {
    return this.#core.engine.state
  }
  /** Open connections (idle, checked out, and being opened). */
  get totalCount(): number {
    return this.#core.engine.totalCount
  }
  /** Open connections nobody holds. */
  get idleCount(): number {
    return this.#core.engine.idleCount
  }
  /** Connections checked out now. */
  get activeCount(): number {
    return this.#core.engine.activeCount
  }
  /** Callers waiting for a connection. */
  get waitingCount(): number {
    return this.#core.engine.waitingCount
  }
  /** Connections kept open when idle (see `resize()`). */
  get minSize(): number {
    return this.#core.engine.minSize
  }
  /** Most connections open at once (see `resize()`). */
  get maxSize(): number {
    return this.#core.engine.maxSize
  }
  /** Its lifecycle events: `pool.events.on('leak', listener)` returns the unsubscribe function. */
  get events(): PoolEventSource {
    return this.#core.monitor.events
  }

  /**
   * Opens `minSize` connections (or the number asked) in parallel and validates each with `SELECT 1`.
   *
   * @throws {PoolWarmupError} when none could open; the cause is the (redacted) driver error
   * @throws {InvalidOptionError} for `connections` outside 1..maxSize
   * @example
   * const report = await pool.warmup() // { pool: 'orders', requested: 4, opened: 4, failed: 0, durationMillis: 12.3 }
   */
  warmup(options?: WarmupOptions): Promise<WarmupReport> {
    return this.#core.engine.warmup(options)
  }

  /** The seed document's name for `warmup()`. */
  warmupPool(options?: WarmupOptions): Promise<WarmupReport> {
    return this.warmup(options)
  }

  /**
   * Changes the size while running. Growing lets the pool open more connections at once (taking back
   * connections an earlier shrink kept open first); shrinking closes idle connections above the new
   * `maxSize` at once and busy ones as they are released, or with `keepSurplusMillis` keeps them open,
   * unused, for that long (`parkedConnections`).
   *
   * @throws {InvalidOptionError} for a bad size, or `minSize` > `maxSize`
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * pool.resize({ maxSize: 20 }, { reason: 'load' })
   */
  resize(size: PoolSize, options?: ResizeOptions): void {
    this.#core.engine.resize(size, options)
  }

  /** True while `suspend()` holds new checkouts. */
  get suspended(): boolean {
    return this.#core.engine.suspended
  }

  /**
   * Holds new checkouts while an operator switches servers (HikariCP's `suspendPool`): callers wait in
   * line, still bounded by the acquire timeout and their operation's signal; clients already checked out
   * stay in use; no connection is opened except by `warmup()`. Fires `suspend`; `getPoolMetrics().suspended`
   * is true until `resume()`.
   *
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * pool.suspend()
   * pool.softEvict()        // idle connections close now, busy ones when released
   * await promoteStandby()  // the operator's switchover
   * await pool.warmup()     // optional: open connections to the new server before serving
   * pool.resume()
   */
  suspend(): void {
    this.#core.engine.suspend()
  }

  /** Serves the held checkouts again, oldest first, and fires `resume`. Does nothing unless suspended. */
  resume(): void {
    this.#core.engine.resume()
  }

  /**
   * Retires every connection without failing anyone (HikariCP's `softEvictConnections`): idle ones close
   * now, checked-out ones (and ones being opened) when they come back, each with disconnect reason
   * `evicted`; new connections open as needed. Does nothing once the pool is closing.
   *
   * @example
   * const { closed, closingOnRelease } = pool.softEvict()
   */
  softEvict(): SoftEvictReport {
    return this.#core.engine.softEvict()
  }

  /** A snapshot of every `PoolMetrics` field. */
  getPoolMetrics(): PoolMetrics {
    return this.#core.metrics()
  }

  /** The live numbers and lifetime counters of `getPoolMetrics()` alone (nothing sorted), for frequent readers. */
  getPoolCounters(): PoolCounters {
    return this.#core.counters()
  }

  /**
   * Subscribes to a lifecycle event; returns the unsubscribe function (the same as `events.on`). A
   * listener that throws is reported as an `error` event, never thrown into the pool.
   *
   * @example
   * const off = pool.on('disconnect', (e) => log.info({ pool: e.pool, reason: e.reason }))
   */
  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => unknown): () => void {
    return this.#core.monitor.events.on(event, listener)
  }

  /**
   * Checks out a client, like `pg.Pool#connect()`; call `client.release()` when done. Waiting honours
   * the current operation's signal. Released while statements still run on it, it stays checked out until
   * they end, and is closed if they leave a transaction open.
   *
   * @throws {PoolTimeoutError} after `acquireTimeoutMillis` (cause: the last connect error)
   * @throws {PoolExhaustedError} when `maxWaitingRequests` callers already wait
   * @throws {OperationAbortedError} when the current operation aborts while waiting
   * @throws {PostgresConnectError} when the server refuses a new connection outright
   * @throws {PoolClosedError} once the pool is closing
   * @throws {InvalidOptionError} at once, for a callback that is not a function
   * @example
   * const client = await pool.connect()
   * try { await client.query('SELECT 1') } finally { client.release() }
   */
  connect(): Promise<PostgresPoolClient>
  /** The callback form, like pg's: `callback(error, client, done)`; `done()` gives the client back. */
  connect(callback: ConnectCallback): void
  connect(callback?: ConnectCallback): Promise<PostgresPoolClient> | void {
    if (callback !== undefined) checkOption('PostgresPool.connect', 'callback', callback, { type: 'function' })
    const checkout = this.#core.checkout(undefined)
    if (callback === undefined) return checkout
    checkout.then(
      (client) => callback(undefined, client, this.#core.doneFor(client)),
      (error: Error) => callback(error, undefined, noop),
    )
  }

  /**
   * Runs one query on a client checked out for it, like `pg.Pool#query()`.
   *
   * @throws {ConnectionLostError} when the connection failed under the query (cause: the server's error)
   * @throws {PostgresQueryTimeoutError} when it ran past `query_timeout` (it is cancelled on the server)
   * @throws {PostgresRollbackError} when its text left a transaction open (`BEGIN; INSERT ...`): its connection is
   *   closed and the server rolls that transaction back (`reason: 'left-open'`)
   * @throws the query's own error, or any error of `connect()`
   * @throws {InvalidOptionError} at once, for a callback that is not a function, or a submittable (a cursor, a
   *   stream: `connect()` and `client.query()` take one, as the drop-in `Pool` does); a function as `text`
   *   (`query(callback)`) is called back with one, as pg calls it back with an `Error`
   * @example
   * const { rows } = await pool.query('SELECT * FROM orders WHERE id = $1', [id])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>>
  /** The callback form, like pg's: `callback(error, result)`. */
  query<R extends pg.QueryResultRow = any>(text: QueryText, callback: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void): void
  /** The callback form with values, like pg's: `callback(error, result)`. */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values: QueryValues, callback: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void): void
  query<R extends pg.QueryResultRow = any>(
    text: QueryText,
    values?: QueryValues | ((error: Error | undefined, result: pg.QueryResult<R> | undefined) => void),
    callback?: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void,
  ): Promise<pg.QueryResult<R>> | void {
    // pg sends a function as an empty query (which "succeeds"); pg.Pool calls it back with an error instead.
    if (typeof text === 'function') return callBackLater(text as (error: Error) => void, notAQuery())
    // Sent as a config, a cursor or stream would never settle and keep its connection: refused at once.
    if (isSubmittable(text)) throw submittableRefused(`run the query on pool '${this.name}'`, 'take one with `connect()` and pass it to `client.query()`, or use the drop-in `Pool`, whose `query()` takes it')
    if (typeof values === 'function') {
      callback = values
      values = undefined
    }
    if (callback !== undefined) checkOption('PostgresPool.query', 'callback', callback, { type: 'function' })
    const result = this.#core.query<R>(undefined, text, values)
    if (callback === undefined) return result
    const done = callback
    result.then(
      (value) => done(undefined, value),
      (error: Error) => done(error, undefined),
    )
  }

  /**
   * @internal A control query (see core's `controlQuery`): served on the next connection to come free, ahead
   * of every waiting caller. A connection budget counts through it.
   */
  [controlQuery](text: string, values: unknown[]): Promise<pg.QueryResult> {
    // Not the current operation's: a budget's timers may have started inside one, which must not own the count.
    return outsideOperations(() => this.#core.query(undefined, text, values, false, true))
  }

  /**
   * Graceful: refuses new checkouts (callers already waiting for a connection being opened get it; other
   * waiters get `PoolClosedError`), waits up to `timeoutMillis` (default 10000) for checked-out clients
   * to come back, closes those still out (cancelling the statement each still runs on the server), then
   * every connection. Idempotent.
   *
   * @throws {InvalidOptionError} (as a rejection) for a bad `timeoutMillis`
   * @example
   * process.on('SIGTERM', () => pool.close({ timeoutMillis: 5000 }))
   */
  close(options?: { timeoutMillis?: number }): Promise<void> {
    return this.#core.engine.close(options)
  }

  /** `pg.Pool#end()`: the same as `close()`, for libraries that end the pool they were given. */
  end(): Promise<void>
  /** The callback form, as in pg: `callback(error)` once the pool is closed. */
  end(callback: (error?: Error) => void): void
  end(callback?: (error?: Error) => void): Promise<void> | void {
    checkCallback('PostgresPool.end', callback)
    const closing = this.close()
    if (callback === undefined || callback === null) return closing
    closing.then(() => callback(), callback)
  }
}

/**
 * Creates a PostgreSQL pool. Nothing connects until the first checkout or `warmup()`.
 *
 * @throws {InvalidOptionError} for a bad, unknown or out-of-range option, naming it
 * @example
 * const orders = createPostgresPool({
 *   name: 'orders',
 *   connectionString: process.env.ORDERS_DATABASE_URL,
 *   applicationName: 'orders-api',
 *   minSize: 2,
 *   maxSize: 20,
 * })
 * registry.register(orders)
 * await registry.warmup()
 */
export function createPostgresPool(options: PostgresPoolOptions): PostgresPool {
  return new PostgresPool(options)
}

