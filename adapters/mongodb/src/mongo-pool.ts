import { inspect, type InspectOptions } from 'node:util'
import {
  PoolWarmupError,
  type ManagedPool,
  type PoolEventMap,
  type PoolEventName,
  type PoolCounters,
  type PoolEventSource,
  type PoolMetrics,
  type PoolSize,
  type PoolState,
  type ResizeOptions,
  type WarmupOptions,
  type WarmupReport,
} from '@lifeguard/core'
import {
  AdmissionQueue,
  checkOption,
  DrainWait,
  PoolLifecycle,
  PoolMonitor,
  type LivePoolState,
  validateOptions,
} from '@lifeguard/core/adapter'
import type { Collection, CollectionOptions, Db, DbOptions, Document, MongoClient } from 'mongodb'
import { ClientClosedError } from './errors.js'
import { ClientRevival } from './internal/client-revival.js'
import { CmapTracker } from './internal/cmap-tracker.js'
import { CommandTimer } from './internal/command-timer.js'
import { createClient } from './internal/create-client.js'
import { Deadline } from './internal/deadline.js'
import { currentContext, Gate } from './internal/gate.js'
import { gated } from './internal/gated-proxy.js'
import { closeLateTopology } from './internal/late-connect.js'
import { collectionNameRule, databaseNameRule } from './internal/names.js'
import { MinSizeKeeper } from './internal/min-size-keeper.js'
import type { PoolAccess } from './internal/pool-access.js'
import { describeTarget, secretsOf } from './internal/target.js'
import { poolAccess } from './internal/symbols.js'
import { ping, warmConnections } from './internal/warmup.js'
import { MongoLease } from './mongo-lease.js'
import { resolveOptions, type MongoPoolOptions, type ResolvedMongoPoolOptions } from './options.js'

// See `#close`: after a drain that gave up, what the client's close may take beyond `timeoutMillis`.
const clientCloseGraceMillis = 1000

/** Options of `pool.acquire()`. */
export interface AcquireOptions {
  /** Leave the queue with `OperationAbortedError` when this aborts. Default: the current context's signal. */
  signal?: AbortSignal | undefined
}

/**
 * A MongoDB pool: one `MongoClient` whose connection pool is measured through its CMAP events and whose
 * operations pass an admission limit of `maxSize`, which `resize()` changes while running.
 * Create it with `createMongoPool()`.
 */
export class MongoPool implements ManagedPool {
  /** Unique in its registry, e.g. `'orders'`. */
  readonly name: string
  /** Always `'mongodb'`. */
  readonly kind = 'mongodb'
  /** Where it connects, with the user name but without password or query string: `mongodb://app@db:27017/orders`. */
  readonly target: string
  /** The database of `db()` and `collection()` without a name. */
  readonly dbName: string
  readonly #client: MongoClient
  readonly #revival: ClientRevival
  readonly #options: ResolvedMongoPoolOptions
  readonly #monitor: PoolMonitor
  readonly #queue: AdmissionQueue
  readonly #gate: Gate
  readonly #tracker: CmapTracker
  readonly #commands: CommandTimer
  readonly #access: PoolAccess
  #minSize: number
  #maxSize: number
  readonly #lifecycle: PoolLifecycle
  // True once the close has the driver close its client: a connection cut from then on was cut by the close.
  #clientClosing = false
  // close()'s wait for the operations it lets finish.
  readonly #drain: DrainWait
  readonly #keeper: MinSizeKeeper
  // close()'s deadline, which a later close() with a shorter timeout brings forward.
  #closeBy: Deadline | undefined

  /**
   * @internal use `createMongoPool()`
   * @throws {InvalidOptionError}
   */
  constructor(input: MongoPoolOptions) {
    const options = resolveOptions(input)
    this.#options = options
    this.name = options.name
    this.#lifecycle = new PoolLifecycle(options.name)
    this.#minSize = options.minSize
    this.#maxSize = options.maxSize
    const client = createClient(options)
    this.#client = client
    this.dbName = options.dbName ?? client.options.dbName
    this.target = describeTarget(client, this.dbName)
    this.#monitor = new PoolMonitor({
      name: options.name,
      kind: this.kind,
      target: this.target,
      events: options.events,
      leakDetectionMillis: options.leakDetectionMillis,
      secrets: secretsOf(options.uri, client, options.clientOptions),
      ...(options.clock === undefined ? {} : { clock: options.clock }),
    })
    this.#revival = new ClientRevival(client, this.#monitor.clock)
    this.#drain = new DrainWait(this.#monitor.clock)
    this.#queue = new AdmissionQueue({
      pool: options.name,
      limit: options.maxSize,
      timeoutMillis: options.acquireTimeoutMillis,
      clock: this.#monitor.clock,
      ...(options.maxWaitingRequests === undefined ? {} : { maxWaiting: options.maxWaitingRequests }),
      lastError: () => {
        const error = this.#tracker.lastConnectError
        return error === undefined ? undefined : this.#monitor.stats.redact(error)
      },
    })
    this.#gate = new Gate(this.#queue, this.#monitor, { onIdle: () => this.#drain.drained(), prepare: () => this.#revival.ensure(), closed: () => this.#lifecycle.state === 'closed' })
    // Deferred: these hooks run inside the driver's event emission, which must not be re-entered.
    const maintainSoon = () => void setImmediate(() => this.#keeper.maintain())
    this.#tracker = new CmapTracker(client, options.name, this.#monitor, {
      poolReady: maintainSoon,
      connectionLost: maintainSoon,
      clientClosed: () => this.#clientClosed(),
      closing: () => this.#clientClosing,
    })
    this.#commands = new CommandTimer(client, this.#monitor)
    // Warm-up does the same work; the keeper refills what it left short once it is over (see `warmup()`).
    this.#keeper = new MinSizeKeeper(() => this.#tracker.serving, () => this.#ping(), () => this.#minSize, () => this.#lifecycle.closing || this.#lifecycle.state === 'warming' || this.#tracker.paused, this.#monitor.clock)
    this.#access = { name: this.name, dbName: this.dbName, client, gate: this.#gate, clock: this.#monitor.clock }
    this.#monitor.poolCreated(this.#minSize, this.#maxSize)
  }

  /**
   * The driver's client. Operations made on it directly bypass admission (and so `maxSize`, bounded waiting
   * and per-operation metrics), though its connections are still counted: use it for what the handle does
   * not cover, such as change streams. If the driver closed it after a failed first connection, reading it
   * reconnects it (in the background), as the pool's own operations do; never once the pool is closing.
   */
  get client(): MongoClient {
    this.#revival.kick()
    return this.#client
  }

  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`. */
  get state(): PoolState {
    return this.#lifecycle.state
  }
  /** Connections open or opening, as the driver's CMAP events report them. */
  get totalCount(): number {
    return this.#tracker.total
  }
  /** Open connections not in use. */
  get idleCount(): number {
    return this.#tracker.idle
  }
  /** Connections checked out by a running command. */
  get activeCount(): number {
    return this.#tracker.busy
  }
  /** Operations waiting for admission or for a new connection. */
  get waitingCount(): number {
    return this.#queue.waiting + this.#tracker.waiting
  }
  /** Connections kept open and validated. */
  get minSize(): number {
    return this.#minSize
  }
  /** Operations admitted at once (connections in use at most). */
  get maxSize(): number {
    return this.#maxSize
  }
  /** The highest `maxSize` that `resize()` accepts (the driver's fixed `maxPoolSize`). */
  get maxSizeLimit(): number {
    return this.#options.maxSizeLimit
  }

  /**
   * A database whose operations go through admission, outside any request scope (jobs, start-up code).
   * Waiting operations leave the queue when the current operation context aborts.
   */
  db(name?: string, options?: DbOptions): Db {
    if (name !== undefined) checkOption('MongoPool.db', 'name', name, databaseNameRule)
    return gated(this.#client.db(name ?? this.dbName, options), (operation) => this.#gate.run(operation, currentContext), this.#gate.redact)
  }

  /** A collection of `dbName` whose operations go through admission. */
  collection<T extends Document = Document>(name: string, options?: CollectionOptions): Collection<T> {
    checkOption('MongoPool.collection', 'name', name, collectionNameRule)
    return this.db().collection<T>(name, options)
  }

  /**
   * Takes one admission slot until `release()`. Reported like a checkout: `onAcquire`, `onRelease`, `onLeak`.
   *
   * @throws {PoolExhaustedError} at once when `maxWaitingRequests` operations already wait
   * @throws {PoolTimeoutError} after `acquireTimeoutMillis` (cause: the last connect error, if any)
   * @throws {OperationAbortedError} when the signal aborts while waiting
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * const lease = await pool.acquire()
   * try { await lease.collection('orders').insertOne({ sku: 'a' }) } finally { lease.release() }
   */
  async acquire(options?: AcquireOptions): Promise<MongoLease> {
    if (options !== undefined) validateOptions('acquire', options, { signal: { type: 'signal', optional: true } })
    const owner = options?.signal ?? currentContext()
    const checkout = await this.#gate.admit(owner)
    return new MongoLease(this.#access, checkout, owner)
  }

  /**
   * Opens and validates connections: `minSize` (at least 1) or `connections`, with parallel pings, until
   * the driver reports them ready. Resolves with a partial count if some could not open in time.
   *
   * @throws {PoolWarmupError} when no connection could open (cause: the driver's error, redacted)
   * @throws {InvalidOptionError} for `connections` outside 1..maxSize
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * const report = await pool.warmup() // { pool: 'orders', requested: 4, opened: 4, failed: 0, durationMillis: 12.3 }
   */
  warmup(options?: WarmupOptions): Promise<WarmupReport> {
    const bounds = { minSize: this.#minSize, maxSize: this.#maxSize, timeoutMillis: this.#options.acquireTimeoutMillis }
    const warming = this.#lifecycle.warmup(options, bounds, async ({ connections, timeoutMillis }) => {
      const outcome = await warmConnections({
        ping: () => this.#ping(),
        tracker: this.#tracker,
        requested: connections,
        timeoutMillis,
        clock: this.#monitor.clock,
        refilling: this.#keeper.settled,
      })
      if (outcome.opened === 0) {
        const cause = outcome.lastError === undefined ? undefined : this.#monitor.error(outcome.lastError, 'pool')
        // The last error's words in the message too (redacted), as the PostgreSQL pool's warm-up says why.
        const why = cause === undefined ? '' : `: ${cause.message}`
        const none = outcome.silent ? 'No connection answered' : 'No connection could be opened'
        const reason = outcome.timedOut ? `${none} within ${timeoutMillis}ms${why}.` : `${none}${why}.`
        throw new PoolWarmupError(this.name, this.target, reason, cause === undefined ? undefined : { cause })
      }
      return { pool: this.name, requested: connections, opened: outcome.opened, failed: connections - outcome.opened, durationMillis: outcome.durationMillis }
    })
    // The keeper pauses while the pool warms up, so a warm-up that opened fewer than `minSize` (asked for fewer,
    // or ran out of time) would leave the pool short until a connection was lost: it refills once the state
    // has moved on, whether the warm-up succeeded or not.
    return warming.finally(() => this.#keeper.maintain())
  }

  /** The seed document's name for `warmup()`. */
  warmupPool(options?: WarmupOptions): Promise<WarmupReport> {
    return this.warmup(options)
  }

  /**
   * Changes the size while running. Growing admits waiting operations at once (the driver opens connections
   * as they need them); shrinking admits no more than the new `maxSize` from now on, and the connections above
   * it close once idle for `maxIdleTimeMillis`. Raising `minSize` opens connections at once.
   *
   * @throws {InvalidOptionError} outside 0 <= minSize <= maxSize <= maxSizeLimit (a `maxSize` alone below
   *   `minSize` lowers `minSize` with it)
   * @throws {PoolClosedError} once the pool is closing
   * @example
   * pool.resize({ maxSize: 20 }, { reason: 'load' })
   */
  resize(size: PoolSize, options?: ResizeOptions): void {
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    const next = this.#lifecycle.resize(previous, size, options, this.#options.maxSizeLimit)
    if (next === undefined) return
    this.#minSize = next.minSize
    this.#maxSize = next.maxSize
    this.#queue.setLimit(next.maxSize)
    this.#monitor.resized(previous, next, options?.reason ?? 'manual', options?.details)
    this.#keeper.maintain()
  }

  /** A snapshot from the driver's CMAP events and the admission queue; `waitTime` and `useTime` are per admitted operation. */
  getPoolMetrics(): PoolMetrics {
    return this.#monitor.snapshot(this.#live())
  }

  /** The live numbers and lifetime counters of `getPoolMetrics()` alone (nothing sorted), for frequent readers. */
  getPoolCounters(): PoolCounters {
    return this.#monitor.counters(this.#live())
  }

  /** Subscribes to a lifecycle event; returns the unsubscribe function (the same as `events.on`). */
  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => unknown): () => void {
    return this.#monitor.events.on(event, listener)
  }

  /** Its lifecycle events (the pool contract's way in): `pool.events.on('leak', listener)`. */
  get events(): PoolEventSource {
    return this.#monitor.events
  }

  /**
   * Closes gracefully: refuses new operations (waiting ones get `PoolClosedError`), waits up to
   * `timeoutMillis` (default 10000) for admitted ones and leases, then closes the client, which ends its
   * sessions on the server and closes every connection. The whole close takes at most `timeoutMillis`, or
   * one second more when operations were still running then (so the server's clean-up of them can finish):
   * after that, what the client's close still waits for (an unreachable server's cursors, transactions,
   * reconnect) is given up. Idempotent.
   */
  close(options?: { timeoutMillis?: number }): Promise<void> {
    return this.#lifecycle.close(
      options,
      (timeoutMillis) => this.#close(timeoutMillis),
      (timeoutMillis) => {
        this.#drain.shorten(timeoutMillis)
        this.#closeBy?.shorten(timeoutMillis)
      },
    )
  }

  /** @internal what leases and handles use */
  [poolAccess](): PoolAccess {
    return this.#access
  }

  async #close(timeoutMillis: number): Promise<void> {
    const closeBy = new Deadline(this.#monitor.clock, timeoutMillis)
    this.#closeBy = closeBy
    this.#queue.close()
    this.#keeper.stop()
    // Operations still running when the drain gave up (a cursor or a transaction of theirs left open): the
    // client's close still gets a second for the server's part (killCursors, abortTransaction, endSessions).
    if (this.#queue.active > 0 && !(await this.#drain.wait(timeoutMillis))) closeBy.extend(clientCloseGraceMillis)
    // A reconnect still running would otherwise open a topology after the close, and a later one would reopen it.
    this.#revival.stop()
    const closing = this.#revival.settled().then(() => {
      this.#clientClosing = true
      return this.#client.close()
    })
    try {
      // The driver's close first closes the cursors and sessions still open: their killCursors and
      // abortTransaction (and a reconnect under way) wait out server selection while the server is unreachable.
      if (!(await closeBy.race(closing))) {
        this.#clientClosing = true
        abandonTopology(this.#client)
      }
      await closing
      // A connect under way outside admission (a refill's or warm-up's ping, `pool.client.connect()`, an
      // operation the drain gave up on) may build its topology only now. Past the deadline, that topology is
      // still closed once built, without waiting for it here.
      const late = closeLateTopology(this.#client)
      if (late !== undefined && !(await closeBy.race(late))) abandonTopology(this.#client)
    } finally {
      this.#tracker.detach()
      this.#commands.detach()
    }
  }

  /** A summary without the client (whose options hold the connection string), for logs and `console.log`. */
  [inspect.custom](_depth: number, options: InspectOptions): string {
    return `MongoPool ${inspect(this.toJSON(), { ...options, depth: 1 })}`
  }

  /** What `JSON.stringify(pool)` shows: name, kind, redacted target, database, state and size. */
  toJSON(): { name: string; kind: string; target: string; dbName: string; state: PoolState; minSize: number; maxSize: number } {
    return { name: this.name, kind: this.kind, target: this.target, dbName: this.dbName, state: this.#lifecycle.state, minSize: this.#minSize, maxSize: this.#maxSize }
  }

  /** `MongoPool 'orders' (mongodb://app@db:27017/orders)`: never the password. */
  toString(): string {
    return `MongoPool '${this.name}' (${this.target})`
  }

  #live(): LivePoolState {
    return {
      totalConnections: this.totalCount,
      activeConnections: this.activeCount,
      idleConnections: this.idleCount,
      waitingRequests: this.waitingCount,
      minSize: this.#minSize,
      maxSize: this.#maxSize,
    }
  }

  // A ping outside admission (warm-up, refills) that first reconnects a client the driver closed.
  async #ping(): Promise<unknown> {
    await this.#revival.ensure()
    return ping(this.#client)
  }

  #clientClosed(): void {
    // Closing the pool closes the client too; only a close the driver made on its own is recovered from.
    if (this.#lifecycle.closing) return
    this.#revival.markClosed()
    this.#monitor.error(new ClientClosedError(this.name, { cause: this.#tracker.lastConnectError }), 'pool')
  }
}

/**
 * Makes the client give up what its close still waits for: closing its topology fails every server selection
 * waiting in it (with `MongoTopologyClosedError`) and closes its pools, and closing the checked-out connections
 * ends a reply still awaited. The driver's own `close()` under way then finishes at once. `topology` is the
 * driver's (7.x) internal; without one there is nothing to wait for.
 */
function abandonTopology(client: MongoClient): void {
  const topology = (client as unknown as { topology?: { closeCheckedOutConnections?(): void; close?(): void } }).topology
  topology?.closeCheckedOutConnections?.()
  topology?.close?.()
}

/**
 * Creates a MongoDB pool on the official driver. Nothing connects until the first operation or `warmup()`.
 *
 * @throws {InvalidOptionError} for a missing, unknown or out-of-range option, or an unparsable `uri` (redacted)
 * @example
 * const orders = createMongoPool({ name: 'orders', uri: process.env.MONGODB_URI!, minSize: 2, maxSize: 20 })
 * registry.register(orders)
 * await registry.warmup()
 */
export function createMongoPool(options: MongoPoolOptions): MongoPool {
  return new MongoPool(options)
}
