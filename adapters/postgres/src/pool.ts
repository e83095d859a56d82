import { EventEmitter } from 'node:events'
import {
  type ManagedPool,
  type PoolEventListeners,
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
import { controlQuery, outsideOperations } from '@lifeguard/core/adapter'
import type { Clock } from '@lifeguard/core/adapter'
import type * as pg from 'pg'
import { PgPoolCore } from './internal/pool-core.js'
import { clientState, type PooledClient } from './internal/pooled-client.js'
import { cancelOnClient } from './internal/cancel-request.js'
import { isReadTimeout, statementError } from './internal/run-query.js'
import type { PgPoolSettings } from './internal/settings.js'
import { resolvePgConfig } from './internal/resolve-pg-config.js'
import { checkCallback, notAQuery } from './internal/query-text.js'
import { poolCore } from './internal/symbols.js'
import type { PoolerOption, PostgresHost, TargetSessionAttrs } from './options.js'
import type { QueryText, QueryValues } from './query-types.js'

/**
 * A `pg.Pool` config (every field of pg's, with pg's defaults and meanings), plus Lifeguard's extras.
 * Pool settings are checked: a bad one is an `InvalidOptionError` naming it.
 */
export interface PoolConfig extends pg.PoolConfig {
  /** The pool's name in errors, events, metrics and a registry. Default: `application_name`, else `'postgres'`. */
  name?: string | undefined
  /** Callers beyond this many waiting get `PoolExhaustedError` at once. Default: unbounded. */
  maxWaitingRequests?: number | undefined
  /** A checkout held longer than this fires a `leak` event. Default 0 (off). */
  leakDetectionMillis?: number | undefined
  /** Each lifetime (`maxLifetimeSeconds`) is shortened by a random amount up to this. Default: 10% of it. */
  maxLifetimeJitterMillis?: number | undefined
  /** A client idle at least this long is checked with `SELECT 1` before it is handed out. Default 30000. */
  validateAfterIdleMillis?: number | undefined
  /** Lifeguard's lifecycle listeners (`onConnect`, `onLeak`, ...), as for `createPostgresPool`. */
  events?: PoolEventListeners | readonly PoolEventListeners[] | undefined
  /** Where time is read and timers are set; tests pass a manual clock. */
  clock?: Clock | undefined
  /**
   * Several servers, tried in order, as for `createPostgresPool`. libpq's form works too:
   * `host: 'db1,db2'` with one `port` or a comma-separated string of as many. Not with `connectionString`.
   */
  hosts?: readonly PostgresHost[] | undefined
  /** Which server new connections must reach, as libpq's `target_session_attrs`. Default `'any'`. */
  targetSessionAttrs?: TargetSessionAttrs | undefined
  /** Set when the pool connects through PgBouncer in transaction mode (see `PoolerOption`). */
  pooler?: PoolerOption | undefined
}

/**
 * `pool.options`: the config it was created with, with what pg.Pool fills in (as pg's own `PoolOptions`, so a
 * `Pool` is a `pg.Pool` to TypeScript too).
 */
export interface PoolOptions extends PoolConfig {
  /** The `maxSize` it was created with (default 10; 0 reads as unset, as in pg). */
  max: number
  /** The `minSize` it was created with (default 0). */
  min: number
  /** Uses before a connection is closed (`Infinity`: no limit). */
  maxUses: number
  /** Whether the process may exit while every client is idle. */
  allowExitOnIdle: boolean
  /** Lifetime of a connection, in seconds (0: no limit). */
  maxLifetimeSeconds: number
  /** How long a client may sit idle (0 or null: no limit). */
  idleTimeoutMillis: number | null
}

/** pg's query callback: `callback(error, result)`. */
export type QueryCallback<R> = (error: Error, result: R) => void
const noop = (): void => {}
// `close()`'s default wait for checked-out clients, as `PostgresPool.close()`'s.
const defaultCloseMillis = 10_000

/**
 * A drop-in replacement for node-postgres's `pg.Pool`: the same constructor options, methods, callback
 * and promise forms, properties and events (`connect`, `acquire`, `release`, `remove`, `error`, with
 * pg's arguments), so migrating is a one-line change of the import. Underneath it is Lifeguard's pool
 * engine, so the pool also has metrics, leak reports, live resizing, warm-up, typed errors and a place
 * in a `PoolRegistry` (it implements `ManagedPool`; its Lifeguard events are on `pool.events`).
 *
 * Differences from pg, all on the safe side: a server error (syntax, constraint) does not close the
 * connection; an idle client's error is emitted as `'error'` only when someone listens (pg would crash
 * the process); `connectionTimeoutMillis` gives a `PoolTimeoutError`; clients that sat idle for
 * `validateAfterIdleMillis` are checked before being handed out; a listener of `'connect'`, `'acquire'`,
 * `'release'` or `'remove'` that throws is reported as Lifeguard's `error` event and the pool goes on; a
 * client released while a statement still runs on it (`return client.query('COMMIT')` before a `finally`
 * that releases) goes back once that statement has ended, and is closed if it then is inside a transaction;
 * a `query()` whose text leaves a transaction open (`BEGIN; INSERT ...`) has its connection closed and rejects
 * with `PostgresRollbackError`, where pg would hand the open transaction to the next caller.
 *
 * @example
 * import { Pool } from '@lifeguard/postgres' // was: import { Pool } from 'pg'
 * const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 20 })
 * const { rows } = await pool.query('SELECT now()')
 */
export class Pool extends EventEmitter implements ManagedPool {
  /** Always `'postgres'`. */
  readonly kind = 'postgres'
  /**
   * The config it was created with (the password is not enumerable), with what pg.Pool fills in when it is
   * left out (`max`, `min`, `idleTimeoutMillis`, `maxUses`, `allowExitOnIdle`, `maxLifetimeSeconds`), as
   * this pool uses them. `max` and `min` are the sizes at creation: `resize()` changes `maxSize`/`minSize`.
   */
  readonly options: PoolOptions
  readonly #core: PgPoolCore
  /** @internal the pool core, for the request-scoped handle (a getter, so `util.inspect` does not walk it). */
  get [poolCore](): PgPoolCore {
    return this.#core
  }
  #ending: Promise<void> | undefined
  // True once close() was called: a later one without a timeout keeps the close under way as it is.
  #closeCalled = false
  readonly #Promise: PromiseConstructorLike | undefined

  /** @throws {InvalidOptionError} for a pool setting of the wrong type or out of range */
  constructor(config?: PoolConfig) {
    super()
    const settings = resolvePgConfig(config as PoolConfig)
    this.options = withPgDefaults(hidePassword(config ?? {}), settings)
    // `null` is unset here as in pg-pool (see resolvePgConfig).
    this.#Promise = config?.Promise ?? undefined
    const log = config?.log ?? undefined
    this.#core = new PgPoolCore(settings, {
      connected: (client) => this.#emitSafely('connect', client),
      acquired: (client) => this.#emitSafely('acquire', client),
      released: (argument, client) => this.#emitSafely('release', argument, client),
      removed: (client) => this.#emitSafely('remove', client),
      // pg.Pool would throw (and crash the process) with nobody listening; Lifeguard reports it either way.
      // Redacted, as every error the pool reports: a server's or TLS message may quote the connection settings.
      idleError: (error, client) => {
        if (this.listenerCount('error') > 0) this.#emitSafely('error', this.#core.redact(error), client)
      },
    })
    if (log !== undefined) {
      const events = this.#core.monitor.events
      events.on('connect', (e) => log('new client connected', e.connectionId))
      events.on('disconnect', (e) => log(`client removed (${e.reason})`, e.connectionId))
      events.on('error', (e) => log(`client error (${e.source})`, e.error.message))
    }
  }

  // pg.Pool's events are the application's code: a listener that throws is reported as a listener error and
  // the pool goes on. Unguarded, one left a new connection open on the server ('connect'), a checkout that
  // nobody held ('acquire'), a query that never settled ('release'), or crashed the process ('error').
  #emitSafely(event: 'connect' | 'acquire' | 'release' | 'remove' | 'error', ...args: unknown[]): void {
    try {
      this.emit(event, ...args)
    } catch (error) {
      this.#core.monitor.events.listenerFailed(event, error, 'adapter')
    }
  }

  /** Its name in a registry, errors, events and metrics. */
  get name(): string {
    return this.#core.name
  }
  /** Where it connects, without the password. */
  get target(): string {
    return this.#core.target
  }
  /** `Pool 'orders' (postgres://app@db:5432/orders)`: never the password. */
  override toString(): string {
    return `Pool '${this.name}' (${this.target})`
  }
  /** `created`, `warming`, `ready`, `closing` or `closed`. */
  get state(): PoolState {
    return this.#core.engine.state
  }
  /** Clients open, checked out, or being opened. */
  get totalCount(): number {
    return this.#core.engine.totalCount
  }
  /** Clients open and not checked out. */
  get idleCount(): number {
    return this.#core.engine.idleCount
  }
  /**
   * Callers waiting for a client, as pg.Pool counts them: not those a client is being opened for (a cold start
   * is no saturation). `PostgresPool.waitingCount` counts the whole queue.
   */
  get waitingCount(): number {
    const engine = this.#core.engine
    return Math.max(0, engine.waitingCount - engine.pendingCount)
  }
  /** Clients checked out now. */
  get activeCount(): number {
    return this.#core.engine.activeCount
  }
  /** Checked-out clients past their lifetime, closed when released. */
  get expiredCount(): number {
    return this.#core.engine.expiredCount
  }
  /** True once `end()` was called. */
  get ending(): boolean {
    return this.#ending !== undefined || this.state === 'closing' || this.state === 'closed'
  }
  /** True once every client is closed after `end()`. */
  get ended(): boolean {
    return this.state === 'closed'
  }
  /** Clients kept open when idle: `min` at creation, then what `resize()` sets. */
  get minSize(): number {
    return this.#core.engine.minSize
  }
  /** Most clients open at once: `max` at creation, then what `resize()` sets. */
  get maxSize(): number {
    return this.#core.engine.maxSize
  }
  /** Lifeguard's lifecycle events (`pool.on` is pg's `EventEmitter`): `pool.events.on('leak', listener)`. */
  get events(): PoolEventSource {
    return this.#core.monitor.events
  }

  /**
   * pg.Pool's events, typed as pg's own types type them: `'error'` and `'release'` get `(error, client)`,
   * `'connect'`, `'acquire'` and `'remove'` get `(client)`. Lifeguard's own events are on `events`.
   */
  override on<K extends 'error' | 'release' | 'connect' | 'acquire' | 'remove'>(event: K, listener: K extends 'error' | 'release' ? (error: Error, client: pg.PoolClient) => void : (client: pg.PoolClient) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void)
  }

  /**
   * Checks a client out (`client.release()` gives it back; `release(true)` or `release(error)` closes it).
   * Released while statements still run on it, it stays checked out until they end.
   *
   * @throws {PoolTimeoutError} after `connectionTimeoutMillis` (when set)
   * @throws {PoolClosedError} after `end()`
   * @throws the connection error when a new client could not connect
   * @throws {InvalidOptionError} at once, for a callback that is not a function
   */
  connect(): Promise<pg.PoolClient>
  /** The callback form, as in pg: `callback(error, client, done)`; `done()` gives the client back. */
  connect(callback: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void): void
  connect(callback?: (error: Error | undefined, client: pg.PoolClient | undefined, done: (release?: any) => void) => void): Promise<pg.PoolClient> | void {
    checkCallback('Pool.connect', callback)
    const checkout: Promise<PooledClient> = this.#core.checkout(undefined)
    if (callback === undefined || callback === null) return this.#promise(checkout)
    checkout.then(
      (client) => callback(undefined, client, this.#core.doneFor(client)),
      (error: Error) => callback(error, undefined, noop),
    )
  }

  /**
   * Runs one query on a client checked out for it (text and values, a query config, or a submittable
   * such as a cursor or stream), as a promise or with a callback.
   *
   * @throws {ConnectionLostError} when the connection failed under the query (cause: the server's error)
   * @throws {PostgresQueryTimeoutError} when it ran past `query_timeout` (it is cancelled on the server)
   * @throws {PostgresRollbackError} when its text left a transaction open (`BEGIN; INSERT ...`): its connection is
   *   closed and the server rolls that transaction back (`reason: 'left-open'`)
   * @throws the query's own error, or any error of `connect()`
   * @throws {InvalidOptionError} at once, for a callback that is not a function
   */
  query<T extends pg.Submittable>(submittable: T): T
  /** SQL text or a query config, with its values: the promise form. */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values?: QueryValues): Promise<pg.QueryResult<R>>
  /** The callback form, as in pg: `callback(error, result)`. */
  query<R extends pg.QueryResultRow = any>(text: QueryText, callback: QueryCallback<pg.QueryResult<R>>): void
  /** The callback form with values, as in pg: `callback(error, result)`. */
  query<R extends pg.QueryResultRow = any>(text: QueryText, values: QueryValues, callback: QueryCallback<pg.QueryResult<R>>): void
  query(text: unknown, values?: unknown, callback?: unknown): unknown {
    // pg's guard: a function first is taken for the callback, and answered with an error.
    if (typeof text === 'function') return this.#callback(Promise.reject(notAQuery()), text)
    if (typeof values === 'function') {
      callback = values
      values = undefined
    }
    checkCallback('Pool.query', callback)
    if (typeof text === 'object' && text !== null && typeof (text as pg.Submittable).submit === 'function') return this.#submit(text as pg.Submittable)
    const result = this.#core.query(undefined, text as QueryText, values as QueryValues | undefined)
    return typeof callback === 'function' ? this.#callback(result, callback) : this.#promise(result)
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
   * Closes the pool as pg does: no new checkouts; clients already checked out may finish, and are closed
   * when released. A second call fails, as in pg. (`close()` is the idempotent, time-bounded form.)
   */
  end(): Promise<void>
  /** The callback form, as in pg: `callback(error)` once every client is closed (an error on a second call). */
  end(callback: (error?: Error) => void): void
  end(callback?: (error?: Error) => void): Promise<void> | void {
    checkCallback('Pool.end', callback)
    const ending = this.#ending === undefined ? (this.#ending = this.#core.engine.close({ timeoutMillis: 2_147_483_647 })) : Promise.reject(new Error('Called end on pool more than once'))
    if (callback === undefined || callback === null) return this.#promise(ending)
    ending.then(() => callback(), callback)
  }

  /** Opens `min` connections (at least 1), or the number asked, and validates each. @throws {PoolWarmupError} */
  warmup(options?: WarmupOptions): Promise<WarmupReport> {
    return this.#core.engine.warmup(options)
  }

  /** The seed document's name for `warmup()`. */
  warmupPool(options?: WarmupOptions): Promise<WarmupReport> {
    return this.warmup(options)
  }

  /** Changes `min`/`max` while running. @throws {InvalidOptionError} */
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

  /** Graceful and idempotent: like `end()`, but checked-out clients are taken back after `timeoutMillis` (default 10000). */
  close(options?: { timeoutMillis?: number | undefined }): Promise<void> {
    // After `end()` alone, whose close has no limit, a close that names none still bounds the wait by the default
    // (a shutdown's `pool.close()` once a library has ended the pool it was given). After an earlier close(),
    // its own limit stands.
    const firstAfterEnd = this.#ending !== undefined && !this.#closeCalled
    this.#closeCalled = true
    const unnamed = options === undefined || (typeof options === 'object' && options !== null && options.timeoutMillis === undefined)
    return this.#core.engine.close(firstAfterEnd && unnamed ? { ...options, timeoutMillis: defaultCloseMillis } : options)
  }

  // A submittable (cursor, stream) runs on a client held until it ends or fails. Listened to at once: a stream
  // destroyed, or a cursor closed, while it still waits for its client gets none (its client was lost for good:
  // a `pipeline()` to a response whose client left, on a saturated pool, cost a connection each time).
  #submit<T extends pg.Submittable>(submittable: T): T {
    const emitter = submittable as unknown as Partial<EventEmitter> & { handleError?: (error: Error) => void; close?: unknown }
    let client: PooledClient | undefined
    let done = false
    const release = (error?: Error): void => {
      if (done) return
      done = true
      client?.release(error)
    }
    emitter.once?.('end', () => release())
    emitter.once?.('close', () => release())
    emitter.once?.('error', (error: Error) => release(error))
    // pg-cursor's close() before the cursor is submitted says nothing: taken as its end.
    const close = emitter.close
    if (typeof close === 'function') {
      Object.defineProperty(submittable, 'close', {
        configurable: true,
        writable: true,
        value: function closeBeforeSubmitted(this: T, ...args: unknown[]): unknown {
          if (client === undefined) release()
          return Reflect.apply(close, this, args)
        },
      })
    }
    const refusal = this.#core.refusal(submittable)
    const checkout = refusal === undefined ? this.#core.checkout(undefined) : Promise.reject(refusal)
    checkout.then(
      (held) => {
        if (done) return held.release()
        client = held
        typedReadTimeouts(submittable, held, this.#core, () => !done)
        held.query(submittable)
      },
      (error: Error) => (emitter.handleError !== undefined ? emitter.handleError(error) : emitter.emit?.('error', error)),
    )
    return submittable
  }

  #callback(result: Promise<unknown>, callback: Function): undefined {
    const done = callback as (error: Error | undefined, result?: unknown) => void
    result.then(
      (value) => done(undefined, value),
      (error: Error) => done(error),
    )
    return undefined
  }

  #promise<T>(promise: Promise<T>): Promise<T> {
    const Custom = this.#Promise
    if (Custom === undefined) return promise
    return new (Custom as PromiseConstructor)<T>((resolve, reject) => promise.then(resolve, reject))
  }
}

/**
 * pg's `query_timeout` for a cursor or stream: pg hands it a plain error and leaves the statement running, and
 * the cursor waits for it to end by itself. The statement is cancelled at once instead (its client is closed
 * when released), and the error is the typed one. Only while the submittable still holds its client (`held`):
 * pg-cursor never clears pg's timer, which then fires after the cursor has ended and the client moved on.
 */
function typedReadTimeouts(submittable: pg.Submittable, client: PooledClient, core: PgPoolCore, held: () => boolean): void {
  const target = submittable as pg.Submittable & { handleError?: (error: unknown, connection: unknown) => void }
  const handleError = target.handleError
  if (typeof handleError !== 'function') return
  target.handleError = function handleReadTimeout(this: unknown, error: unknown, connection: unknown): void {
    if (isReadTimeout(error) && held()) {
      client[clientState].timedOut = true
      void cancelOnClient(client)
      error = statementError(core.name, client, error, 'run a query', true, core.redact, submittable as unknown as QueryText)
    }
    return Reflect.apply(handleError, this, [error, connection])
  }
}

// pg.Pool fills these in, so code written for it reads `pool.options.max` as a number.
function withPgDefaults(config: PoolConfig, settings: PgPoolSettings): PoolOptions {
  const options = config as PoolOptions
  options.max = settings.maxSize
  options.min = settings.minSize
  options.idleTimeoutMillis ??= settings.idleTimeoutMillis
  options.maxUses = settings.maxUses
  options.allowExitOnIdle = settings.allowExitOnIdle
  options.maxLifetimeSeconds ??= settings.maxLifetimeMillis / 1000
  return options
}

// pg.Pool keeps the password out of `util.inspect(pool.options)` and `JSON.stringify`; this also keeps out the
// connection string, which may carry it. Both stay readable (`pool.options.connectionString`).
function hidePassword(config: PoolConfig): PoolConfig {
  const copy = { ...config }
  for (const key of ['password', 'connectionString'] as const) {
    if (key in config) Object.defineProperty(copy, key, { value: config[key], enumerable: false, writable: true, configurable: true })
  }
  return copy
}


