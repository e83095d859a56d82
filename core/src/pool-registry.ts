import { InvalidOptionError, PoolCloseTimeoutError, PoolNotFoundError, PoolWarmupError, RegistrationError, RegistryCloseError, RegistryWarmupError } from './errors.js'
import { checkCloseOptions, checkWarmupOptions } from './call-options.js'
import { clockRule, systemClock, type Clock } from './clock.js'
import { checkOption, poolNameRule, rejectOption, shownName, validateOptions } from './options.js'
import { redactText } from './redact.js'
import type { ManagedPool, PoolMetrics, WarmupOptions, WarmupReport } from './pool-contract.js'

/** What `registry.warmup()` did for every pool. */
export interface RegistryWarmupReport {
  /** One report per pool, in registration order. */
  pools: WarmupReport[]
  /** How long warming every pool took (ms); they warm up in parallel. */
  durationMillis: number
}

/** Options of `createPoolRegistry()`. */
export interface PoolRegistryOptions {
  /** Times the bounds on each pool's close and warm-up (see `close()`, `warmup()`); default the process clock. Tests pass a manual one. */
  clock?: Clock | undefined
}

/** Registry-level notifications, for plugins that follow pools as they come and go. */
export interface RegistryListener {
  /** A pool was registered. */
  added?: ((pool: ManagedPool) => void) | undefined
  /** A pool was closed (and removed from the registry). */
  removed?: ((pool: ManagedPool) => void) | undefined
}

/**
 * The named pools of one service. No module-level state: two registries in one process are independent.
 */
export class PoolRegistry<P extends Record<string, ManagedPool> = Record<string, ManagedPool>> {
  readonly #pools = new Map<string, ManagedPool>()
  readonly #listeners = new Set<RegistryListener>()
  #ready: Promise<void> | undefined
  #resolveReady: (() => void) | undefined
  #rejectReady: ((error: unknown) => void) | undefined
  #isReady = false
  // Counts close() calls: a warm-up that a close overtook settles neither `ready` nor `isReady`.
  #closes = 0
  #readyFailed = false
  // True once `ready` has resolved or rejected: `close()` then starts it over.
  #readySettled = false
  readonly #clock: Clock

  /**
   * @throws {InvalidOptionError} for options that are not an object, or a `clock` that is not a `Clock`
   */
  constructor(options?: PoolRegistryOptions) {
    validateOptions('createPoolRegistry', options, { clock: clockRule })
    this.#clock = options?.clock ?? systemClock
  }

  /**
   * Adds a pool under its `name`. A pool closed directly (`pool.close()`, not through the registry) stays
   * registered, and makes `isReady` false, until a new pool is registered under its name: that replaces it
   * (`removed`, then `added`).
   *
   * @throws {InvalidOptionError} for something that is not a `ManagedPool`, or a pool whose `name` is empty or a connection string
   * @throws {RegistrationError} when the name is taken by a pool that is not closed
   */
  register<T extends ManagedPool>(pool: T): T {
    checkOption('registry.register', 'pool', pool, { type: 'custom', expected: 'a ManagedPool', check: isManagedPool })
    checkOption('registry.register', 'pool.name', pool.name, poolNameRule)
    const taken = this.#pools.get(pool.name)
    if (taken !== undefined) {
      if (taken === pool || taken.state !== 'closed') throw new RegistrationError(`Could not register pool '${pool.name}'. A pool with that name is already registered.`)
      this.#forget(taken)
    }
    this.#pools.set(pool.name, pool)
    this.#notify('added', pool)
    return pool
  }

  /**
   * The pool registered under `name`.
   *
   * @throws {PoolNotFoundError} listing the known names
   * @throws {InvalidOptionError} for a name that is not a string
   */
  get<K extends keyof P & string>(name: K): P[K]
  /**
   * The pool registered under `name`, as the pool type `T` the caller names (not checked).
   *
   * @throws {PoolNotFoundError} listing the known names
   * @throws {InvalidOptionError} for a name that is not a string
   */
  get<T extends ManagedPool = ManagedPool>(name: string): T
  get(name: string): ManagedPool {
    const pool = this.#pools.get(name)
    if (pool === undefined) {
      checkOption('registry.get', 'name', name, { type: 'string' })
      // The name asked for is shown, not quoted: a connection string passed by mistake keeps its password.
      throw new PoolNotFoundError(shownName(name), this.names())
    }
    return pool
  }

  /** True when a pool is registered under `name`. */
  has(name: string): boolean {
    return this.#pools.has(name)
  }

  /** Registered names, in registration order. */
  names(): string[] {
    return [...this.#pools.keys()]
  }

  /** Every registered pool. */
  pools(): ManagedPool[] {
    return [...this.#pools.values()]
  }

  /**
   * Warms every pool up in parallel and reports them together; `ready` resolves when it is done.
   *
   * @throws {InvalidOptionError} for bad options (checked before any pool starts; `ready` is left as it was)
   * @throws {RegistryWarmupError} (an `AggregateError`) of each failed pool's error when any pool fails: its
   *   `PoolWarmupError`, or `PoolClosedError` for a pool closed meanwhile. With `timeoutMillis`, a pool that has
   *   not finished 5 s after it (a pool of one's own that ignores it) fails with a `PoolWarmupError` too.
   *   Without it, each pool's own bound applies (the PostgreSQL and MongoDB pools': their connect or acquire
   *   timeout, 10 s by default); a pool of one's own must bound its `warmup()` itself, or pass `timeoutMillis`.
   */
  async warmup(options?: WarmupOptions): Promise<RegistryWarmupReport> {
    // A bad call is the caller's mistake, not a failed warm-up: it must not reject `ready` for everyone.
    checkWarmupOptions('registry.warmup', options, this.#smallestMaxSize())
    const started = performance.now()
    if (this.#readyFailed) {
      // A retry after a failed warm-up gets a fresh `ready`.
      this.#ready = undefined
      this.#readyFailed = false
    }
    const ready = this.#readyPromise()
    const closes = this.#closes
    const results = await Promise.allSettled(
      this.pools().map((pool) => {
        const warming = settled(() => pool.warmup(options))
        if (options?.timeoutMillis === undefined) return warming
        const boundMillis = Math.min(options.timeoutMillis + GRACE_MILLIS, MAX_TIMER_MILLIS)
        // A pool of one's own may lack a `target` (the registry does not ask for one).
        const target = typeof pool.target === 'string' ? redactText(pool.target) : 'target unknown'
        return this.#within(boundMillis, warming, () => new PoolWarmupError(pool.name, target, `It had not finished ${boundMillis}ms after it was asked to.`))
      }),
    )
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    // A close() overtook it: its pools are gone, and the next warmup() settles `ready` (see `close()`).
    const overtaken = this.#closes !== closes
    if (failures.length > 0) {
      const error = new RegistryWarmupError(failures, `Could not warm up ${failures.length} of ${results.length} pool(s).`)
      if (overtaken) throw error
      this.#rejectReady?.(error)
      this.#readyFailed = true
      this.#readySettled = true
      void ready.catch(() => undefined)
      throw error
    }
    const report = { pools: results.map((r) => (r as PromiseFulfilledResult<WarmupReport>).value), durationMillis: performance.now() - started }
    if (overtaken) return report
    this.#isReady = true
    this.#readySettled = true
    if (this.#readyFailed) {
      // An overlapping call failed first and rejected the `ready` they shared: this later success decides.
      this.#ready = Promise.resolve()
      this.#readyFailed = false
    } else this.#resolveReady?.()
    return report
  }

  /**
   * Resolves once `warmup()` has finished for every pool (rejects if it failed); `close()` starts it over.
   * A startup gate: it does not follow pools registered or closed later, which `isReady` does.
   */
  get ready(): Promise<void> {
    return this.#readyPromise()
  }

  /** True once `warmup()` succeeded and no pool is closing. */
  get isReady(): boolean {
    return this.#isReady && this.pools().every((pool) => pool.state === 'ready')
  }

  /** Metrics of every pool, by name. */
  getPoolMetrics(): Record<string, PoolMetrics> {
    const all: Record<string, PoolMetrics> = {}
    // Defined, not assigned: a pool named `__proto__` would otherwise become the object's prototype.
    for (const [name, pool] of this.#pools) Object.defineProperty(all, name, { value: pool.getPoolMetrics(), enumerable: true, writable: true, configurable: true })
    return all
  }

  /**
   * Closes every pool gracefully, in parallel, and removes each one once it has closed (one whose close failed
   * and that is not closed stays, for the next `close()`). The registry stays usable: a pool registered
   * afterwards is served, and closed by the next `close()`.
   *
   * Bounded: each pool gets `timeoutMillis` (default 10 s, as a pool's own close) plus 5 s to end its
   * connections. A pool that has not closed by then (a pool of one's own that ignores its timeout) fails with
   * `PoolCloseTimeoutError` and stays registered; should its close end later, it is removed then.
   *
   * @throws {InvalidOptionError} for a `timeoutMillis` that is not a duration (before any pool closes)
   * @throws {RegistryCloseError} (an `AggregateError`) when any pool failed to close, or did not in time
   */
  async close(options?: { timeoutMillis?: number | undefined }): Promise<void> {
    checkCloseOptions('registry.close', options)
    // Given to each pool, so that a close already under way with a longer timeout (a drop-in pg Pool's `end()`)
    // is shortened to it, as the bound below assumes.
    const timeoutMillis = options?.timeoutMillis ?? DEFAULT_CLOSE_TIMEOUT_MILLIS
    // Within what a timer can wait (a longer one would fire at once).
    const boundMillis = Math.min(timeoutMillis + GRACE_MILLIS, MAX_TIMER_MILLIS)
    const pools = this.pools()
    this.#closes++
    this.#isReady = false
    // A `ready` already settled says nothing about the pools registered next: the next warmup() decides.
    // One still pending goes on waiting for that warmup().
    if (this.#readySettled) {
      this.#ready = undefined
      this.#readyFailed = false
    }
    // Each pool is removed as soon as it has closed, not when the slowest one has. One whose close failed and
    // that is not closed stays: a retry finds it, and its name is not free for a new pool while it may still
    // hold connections.
    const results = await Promise.allSettled(
      pools.map((pool) =>
        this.#within(
          boundMillis,
          settled(() => pool.close({ ...options, timeoutMillis })).then(
            () => this.#forget(pool),
            (error: unknown) => {
              if (pool.state === 'closed') this.#forget(pool)
              throw error
            },
          ),
          () => new PoolCloseTimeoutError(pool.name, boundMillis),
        ),
      ),
    )
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []))
    if (failures.length > 0) throw new RegistryCloseError(failures, `Could not close ${failures.length} of ${pools.length} pool(s).`)
  }

  /**
   * Follows pools as they are registered and closed; `added` is called at once for the pools already there.
   * Returns the unsubscribe function. A listener that throws, or returns a promise that rejects, becomes a
   * process warning (`LIFEGUARD_LISTENER_FAILED`, passwords removed), never a failed registration.
   *
   * @throws {InvalidOptionError} for a listener that is not an object of `added` / `removed` functions, that has
   *   neither, or (an object literal) that has another key, such as `onAdded`
   */
  subscribe(listener: RegistryListener): () => void {
    checkOption('registry.subscribe', 'listener', listener, { type: 'custom', expected: 'an object whose `added` and `removed`, where present, are functions', check: isRegistryListener })
    // A misspelled listener (`onAdded`) would never be called: an own function under another key is refused.
    // Other own fields are state (`{ added() { this.count++ }, count: 0 }`), and a class keeps its listeners on
    // its prototype.
    const misspelled = Object.keys(listener).find((key) => key !== 'added' && key !== 'removed' && typeof (listener as Record<string, unknown>)[key] === 'function')
    if (misspelled !== undefined) {
      const shown = `listener.${shownName(misspelled)}`
      throw new InvalidOptionError(shown, 'a known listener', `Invalid options for registry.subscribe: unknown listener \`${shown}\`. Known listeners: \`added\`, \`removed\`.`)
    }
    // `in`, as `notify` reads through the prototype; a key given as undefined (exact optional types) counts.
    if (!('added' in listener) && !('removed' in listener)) rejectOption('registry.subscribe', 'listener', 'an object with an `added` or a `removed` listener', listener)
    this.#listeners.add(listener)
    // Over a snapshot: a pool the listener registers from `added` is told to it once, by `register`.
    for (const pool of this.pools()) {
      if (this.#pools.get(pool.name) === pool && this.#listeners.has(listener)) notify(listener, 'added', pool)
    }
    return () => {
      this.#listeners.delete(listener)
    }
  }

  // Over a snapshot of the listeners: one subscribed from a listener was told of the pool by `subscribe`,
  // and one unsubscribed from a listener is told nothing more.
  #notify(event: 'added' | 'removed', pool: ManagedPool): void {
    for (const listener of [...this.#listeners]) if (this.#listeners.has(listener)) notify(listener, event, pool)
  }

  // `work`, or a rejection with `late()` once `millis` have passed without it settling. The timer keeps the
  // process alive: a start-up or a shutdown awaiting this gets its answer rather than an exit with it pending.
  #within<T>(millis: number, work: Promise<T>, late: () => Error): Promise<T> {
    let timer: ReturnType<Clock['setTimeout']> | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(late()), millis)
    })
    return Promise.race([work, deadline]).finally(() => this.#clock.clearTimeout(timer!))
  }

  // A close() that overlapped another, or a pool registered anew under the name, is not removed twice.
  #forget(pool: ManagedPool): void {
    if (this.#pools.get(pool.name) !== pool) return
    this.#pools.delete(pool.name)
    this.#notify('removed', pool)
  }

  // `connections` may not exceed any pool's maxSize; read from metrics, which every pool has.
  #smallestMaxSize(): number {
    let smallest = Number.MAX_SAFE_INTEGER
    for (const pool of this.#pools.values()) smallest = Math.min(smallest, pool.getPoolMetrics().maxSize)
    return smallest
  }

  #readyPromise(): Promise<void> {
    if (this.#ready === undefined) this.#readySettled = false
    this.#ready ??= new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve
      this.#rejectReady = reject
    })
    return this.#ready
  }
}

/**
 * Creates an empty registry.
 *
 * @param options - `clock`: times the bounds on each pool's close and warm-up (default the process clock)
 * @throws {InvalidOptionError} for options that are not an object, or a `clock` that is not a `Clock`
 * @example
 * const registry = createPoolRegistry()
 * registry.register(createPostgresPool({ name: 'orders', connectionString }))
 * await registry.warmup()
 */
export function createPoolRegistry<P extends Record<string, ManagedPool> = Record<string, ManagedPool>>(options?: PoolRegistryOptions): PoolRegistry<P> {
  return new PoolRegistry<P>(options)
}

// A pool's own close waits this long by default. The registry gives a pool this much more than the timeout it
// passed (to end its connections after the drain, to give up on a connect under way).
const DEFAULT_CLOSE_TIMEOUT_MILLIS = 10_000
const GRACE_MILLIS = 5_000
const MAX_TIMER_MILLIS = 2_147_483_647

function isManagedPool(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const pool = value as Partial<Record<keyof ManagedPool, unknown>>
  return typeof pool.name === 'string' && typeof pool.warmup === 'function' && typeof pool.getPoolMetrics === 'function' && typeof pool.close === 'function' && typeof pool.resize === 'function'
}

// A pool of the user's own that throws instead of rejecting still counts as one failure among the others.
function settled<T>(call: () => Promise<T>): Promise<T> {
  try {
    // Also one that returns no promise at all.
    return Promise.resolve(call())
  } catch (error) {
    return Promise.reject(error)
  }
}

// Read as `notify` reads it, so a class instance with its listeners on the prototype passes.
function isRegistryListener(value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const { added, removed } = value as Record<string, unknown>
  return (added === undefined || typeof added === 'function') && (removed === undefined || typeof removed === 'function')
}

// A listener that throws, or returns a promise that rejects (an async one), becomes a process warning: never a
// failed registration, nor an unhandled rejection. Its message may quote what it handled (a connection string).
function notify(listener: RegistryListener, event: 'added' | 'removed', pool: ManagedPool): void {
  const failed = (error: unknown): void => {
    const message = redactText(error instanceof Error ? error.message : String(error))
    process.emitWarning(`A pool registry listener failed on '${event}' for pool '${pool.name}': ${message}`, { code: 'LIFEGUARD_LISTENER_FAILED' })
  }
  try {
    const result: unknown = listener[event]?.(pool)
    if (typeof result === 'object' && result !== null && typeof (result as PromiseLike<unknown>).then === 'function') (result as PromiseLike<unknown>).then(undefined, failed)
  } catch (error) {
    failed(error)
  }
}
