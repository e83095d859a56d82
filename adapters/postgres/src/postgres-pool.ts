import {
  PoolClosedError,
  type ManagedPool,
  type OperationContext,
  type PoolEventMap,
  type PoolEventName,
  type PoolMetrics,
  type PoolSize,
  type PoolState,
  type ResizeOptions,
  type WarmupOptions,
  type WarmupReport,
} from '@lifeguard/core'
import {
  AdmissionQueue,
  PoolMonitor,
  checkOption,
} from '@lifeguard/core/adapter'
import pg from 'pg'
import { Checkouts } from './internal/checkouts.js'
import { closePool } from './internal/close-pool.js'
import { ConnectionTracker, type PoolParts } from './internal/connection-tracker.js'
import { connectionTarget } from './internal/connection-target.js'
import { resolveOptions } from './internal/resolve-options.js'
import { acquireClient, runQuery } from './internal/symbols.js'
import { clientState, trackedClientClass, type TrackedClient } from './internal/tracked-client.js'
import { validateResize } from './internal/validate-resize.js'
import { warmupPool } from './internal/warmup-pool.js'
import type { PostgresPoolOptions } from './options.js'
import type { QueryText, QueryValues } from './query-types.js'

/** A client checked out of a `PostgresPool`: a `pg.PoolClient`; call `release()` exactly once. */
export type PostgresPoolClient = pg.PoolClient

/** pg's callback for `connect(callback)`. */
export type ConnectCallback = (error: Error | undefined, client: PostgresPoolClient | undefined, done: (release?: Error | boolean) => void) => void

const noop = (): void => {}

/**
 * A PostgreSQL pool: node-postgres's own `pg.Pool` behind Lifeguard's pool contract, with bounded and
 * abortable waiting, live resizing, metrics, lifecycle events and leak detection. It also answers
 * `connect()`, `query()` and `end()` like a `pg.Pool`, so libraries that take one (Kysely's
 * `PostgresDialect`, ...) can take it directly. Create it with `createPostgresPool()`.
 */
export class PostgresPool implements ManagedPool {
  readonly name: string
  readonly kind = 'postgres'
  readonly target: string
  readonly #parts: PoolParts
  readonly #tracker: ConnectionTracker
  readonly #checkouts: Checkouts
  #minSize: number
  #maxSize: number
  #state: PoolState = 'created'
  #closing: Promise<void> | undefined

  /** @internal use `createPostgresPool()` */
  constructor(options: PostgresPoolOptions) {
    const resolved = resolveOptions(options)
    const { target, secrets } = connectionTarget(resolved.connection)
    this.name = resolved.name
    this.target = target
    this.#minSize = resolved.minSize
    this.#maxSize = resolved.maxSize
    const monitor = new PoolMonitor({ name: this.name, kind: this.kind, target, events: resolved.events, leakDetectionMillis: resolved.leakDetectionMillis, secrets })
    const admission = new AdmissionQueue({
      pool: this.name,
      limit: resolved.maxSize,
      timeoutMillis: resolved.acquireTimeoutMillis,
      lastError: () => this.#tracker.lastConnectError,
      ...(resolved.maxWaitingRequests === undefined ? {} : { maxWaiting: resolved.maxWaitingRequests }),
    })
    // The hooks run only once pg-pool creates clients, by which time tracker and checkouts exist.
    const Client = trackedClientClass({
      connectTimeoutMillis: resolved.connectTimeoutMillis,
      created: (client) => this.#tracker.created(client),
      opened: () => this.#tracker.opened(),
      released: (client, argument) => this.#checkouts.released(client, argument),
      failed: (client, error) => {
        // Idle clients are reported through pg-pool's 'error' event; this catches the checked-out ones.
        if (client[clientState].checkout !== undefined) this.#tracker.clientFailed(client, error, 'connection')
      },
    })
    const pgPool = new pg.Pool({
      ...resolved.connection,
      max: resolved.maxSize,
      min: resolved.minSize,
      idleTimeoutMillis: resolved.idleTimeoutMillis,
      maxLifetimeSeconds: resolved.maxLifetimeMillis / 1000,
      Client: Client as unknown as NonNullable<pg.PoolConfig['Client']>,
    })
    this.#parts = { name: this.name, target, options: resolved, monitor, admission, pgPool, closing: false }
    this.#tracker = new ConnectionTracker(this.#parts)
    this.#checkouts = new Checkouts(this.#parts, this.#tracker)
    monitor.poolCreated(this.#minSize, this.#maxSize)
  }

  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`. */
  get state(): PoolState {
    return this.#state
  }
  /** Open connections (idle, checked out, and being opened). */
  get totalCount(): number {
    return this.#parts.pgPool.totalCount
  }
  /** Open connections nobody holds. */
  get idleCount(): number {
    return this.#parts.pgPool.idleCount
  }
  /** Connections checked out now. */
  get activeCount(): number {
    return this.#checkouts.active
  }
  /** Callers waiting for a connection. */
  get waitingCount(): number {
    return this.#parts.admission.waiting
  }
  /** Connections kept open when idle (see `resize()`). */
  get minSize(): number {
    return this.#minSize
  }
  /** Most connections open at once (see `resize()`). */
  get maxSize(): number {
    return this.#maxSize
  }

  /**
   * Opens `minSize` connections (or the number asked) in parallel and validates each with `SELECT 1`.
   *
   * @throws {PoolWarmupError} when none could open; the cause is the (redacted) driver error
   * @throws {InvalidOptionError} for `connections` outside 1..maxSize
   * @example
   * const report = await pool.warmup() // { pool: 'orders', requested: 4, opened: 4, failed: 0, durationMillis: 12.3 }
   */
  async warmup(options: WarmupOptions = {}): Promise<WarmupReport> {
    if (this.#closing !== undefined) throw new PoolClosedError(this.name, 'warm up')
    const previous = this.#state
    this.#state = 'warming'
    try {
      const report = await warmupPool({
        pool: this.name,
        target: this.target,
        defaultConnections: Math.max(1, this.#minSize),
        maxSize: this.#maxSize,
        defaultTimeoutMillis: this.#parts.options.connectTimeoutMillis,
        options,
        connect: (deadline) => this.#checkouts.open(deadline),
        failed: (error) => this.#parts.monitor.error(error, 'connection'),
      })
      if (this.#state === 'warming') this.#state = 'ready'
      return report
    } catch (error) {
      if (this.#state === 'warming') this.#state = previous
      throw error
    }
  }

  /**
   * Changes the size while running. Growing lets the pool open more connections at once; shrinking
   * closes idle connections above the new `maxSize` at once and busy ones as they are released.
   *
   * @throws {InvalidOptionError} for a bad size, or `minSize` > `maxSize`
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * pool.resize({ maxSize: 20 }, { reason: 'load' })
   */
  resize(size: PoolSize, options: ResizeOptions = {}): void {
    if (this.#closing !== undefined) throw new PoolClosedError(this.name, 'resize')
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    const next = validateResize(previous, size, options)
    if (next.minSize === previous.minSize && next.maxSize === previous.maxSize) return
    this.#minSize = next.minSize
    this.#maxSize = next.maxSize
    const { pgPool, admission, monitor } = this.#parts
    // pg-pool reads both live: `max` on every checkout, `min` when it decides whether idle clients time out.
    pgPool.options.max = next.maxSize
    pgPool.options.min = next.minSize
    admission.setLimit(next.maxSize)
    this.#checkouts.trimIdle(next.maxSize)
    monitor.resized(previous, next, options.reason ?? 'manual', options.details)
  }

  /** A snapshot of every `PoolMetrics` field; live counts come from pg-pool itself. */
  getPoolMetrics(): PoolMetrics {
    const { pgPool, admission, monitor } = this.#parts
    return monitor.snapshot({
      totalConnections: pgPool.totalCount,
      activeConnections: this.#checkouts.active,
      idleConnections: pgPool.idleCount,
      waitingRequests: admission.waiting,
      minSize: this.#minSize,
      maxSize: this.#maxSize,
    })
  }

  /**
   * Subscribes to a lifecycle event; returns the unsubscribe function. A listener that throws is
   * reported as an `error` event, never thrown into the pool.
   *
   * @example
   * const off = pool.on('disconnect', (e) => log.info({ pool: e.pool, reason: e.reason }))
   */
  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => void | Promise<void>): () => void {
    return this.#parts.monitor.events.on(event, listener)
  }

  /**
   * Checks out a client, like `pg.Pool#connect()`; call `client.release()` when done. Waiting honours
   * the current operation's signal.
   *
   * @throws {PoolTimeoutError} after `acquireTimeoutMillis` (cause: the last connect error)
   * @throws {PoolExhaustedError} when `maxWaitingRequests` callers already wait
   * @throws {OperationAbortedError} when the current operation aborts while waiting
   * @throws {PostgresConnectError} when the server refuses a new connection outright
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * const client = await pool.connect()
   * try { await client.query('SELECT 1') } finally { client.release() }
   */
  connect(): Promise<PostgresPoolClient>
  connect(callback: ConnectCallback): void
  connect(callback?: ConnectCallback): Promise<PostgresPoolClient> | void {
    const checkout = this.#checkouts.acquire(undefined) as Promise<PostgresPoolClient>
    if (callback === undefined) return checkout
    checkout.then(
      (client) => callback(undefined, client, client.release),
      (error: Error) => callback(error, undefined, noop),
    )
  }

  /**
   * Runs one query on a client checked out for it, like `pg.Pool#query()`.
   *
   * @throws the query's error, or any error of `connect()`
   * @example
   * const { rows } = await pool.query('SELECT * FROM orders WHERE id = $1', [id])
   */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>>
  query<R extends pg.QueryResultRow = any>(text: QueryText, callback: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void): void
  query<R extends pg.QueryResultRow = any>(text: QueryText, values: QueryValues, callback: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void): void
  query<R extends pg.QueryResultRow = any>(
    text: QueryText,
    values?: QueryValues | ((error: Error | undefined, result: pg.QueryResult<R> | undefined) => void),
    callback?: (error: Error | undefined, result: pg.QueryResult<R> | undefined) => void,
  ): Promise<pg.QueryResult<R>> | void {
    if (typeof values === 'function') {
      callback = values
      values = undefined
    }
    const result = this.#checkouts.query<R>(undefined, text, values)
    if (callback === undefined) return result
    const done = callback
    result.then(
      (value) => done(undefined, value),
      (error: Error) => done(error, undefined),
    )
  }

  /**
   * Graceful: refuses new checkouts (waiters get `PoolClosedError`), waits up to `timeoutMillis`
   * (default 10000) for checked-out clients to come back, closes those still out, then every connection.
   * Idempotent.
   *
   * @throws {InvalidOptionError} (as a rejection) for a bad `timeoutMillis`
   * @example
   * process.on('SIGTERM', () => pool.close({ timeoutMillis: 5000 }))
   */
  close(options: { timeoutMillis?: number } = {}): Promise<void> {
    try {
      checkOption('close', 'timeoutMillis', options.timeoutMillis, { type: 'integer', min: 0, optional: true })
    } catch (error) {
      return Promise.reject(error)
    }
    this.#closing ??= this.#close(options.timeoutMillis ?? 10_000)
    return this.#closing
  }

  /** `pg.Pool#end()`: the same as `close()`, for libraries that end the pool they were given. */
  end(): Promise<void> {
    return this.close()
  }

  /** @internal the one-query path of `query()` and the request-scoped handle. */
  [runQuery]<R extends pg.QueryResultRow>(context: OperationContext | undefined, text: QueryText, values: QueryValues | undefined): Promise<pg.QueryResult<R>> {
    return this.#checkouts.query<R>(context, text, values)
  }

  /** @internal the checkout behind `connect()` and the request-scoped handle (its context's signal bounds the wait). */
  [acquireClient](context: OperationContext | undefined): Promise<TrackedClient> {
    return this.#checkouts.acquire(context)
  }

  async #close(timeoutMillis: number): Promise<void> {
    this.#state = 'closing'
    this.#parts.closing = true
    this.#parts.admission.close()
    await closePool({
      timeoutMillis,
      active: () => this.#checkouts.pending,
      open: () => this.#tracker.clients.size,
      onAllReleased: (resolve) => this.#checkouts.onAllReleased(resolve),
      onAllRemoved: (resolve) => this.#tracker.onAllRemoved(resolve),
      revoke: () => this.#checkouts.revoke(),
      end: () => {
        const ended = this.#parts.pgPool.end()
        // pg-pool's end() waits for connection attempts too; one to a server that never answers would hold it.
        this.#tracker.abortConnecting()
        return ended
      },
    })
    this.#state = 'closed'
  }
}

/**
 * Creates a PostgreSQL pool on node-postgres. Nothing connects until the first checkout or `warmup()`.
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
