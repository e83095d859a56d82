import { checkOption, type OptionRule } from './options.js'
import { redactError } from './redact.js'

/** Who held or asked for a connection: the operation running at the time, if any. */
export interface OperationOwner {
  /** The operation's `handler`, e.g. `'orders-api'`. */
  handler: string
  /** The operation's name, e.g. `'GET /orders/:id'`. */
  operation: string
  /** The operation's request id; absent when it has none. */
  requestId?: string
}

/** What every lifecycle event carries. */
export interface PoolEventBase {
  /** The pool's name. */
  pool: string
  /** The pool's kind (`postgres`, `mongodb`, ...). */
  kind: string
}

/** Why a connection went away (`evicted`: by `softEvict()`, or because its server no longer fits the pool). */
export type DisconnectReason = 'idle' | 'lifetime' | 'resize' | 'error' | 'closed' | 'stale' | 'released' | 'evicted'

/**
 * `connect` (`onConnect`): a new connection opened (before any validation: a warm-up validates it next). One
 * that broke as it opened is followed by its `disconnect`. An attempt that failed (refused, a failed login) fires
 * neither: its `error` (source `connection`) tells.
 */
export interface ConnectEvent extends PoolEventBase {
  /** The driver's id for the connection (PostgreSQL: the server's process id). */
  connectionId: string | number
  /** Time to open the connection (ms). */
  createMillis: number
}
/** `disconnect` (`onDisconnect`): a connection closed, and why. */
export interface DisconnectEvent extends PoolEventBase {
  /** The driver's id for the connection; absent when the driver gave it none. */
  connectionId?: string | number
  /** Why it closed. */
  reason: DisconnectReason
}
/** `error` (`onError`): a pool, connection or listener error, redacted. */
export interface PoolErrorEvent extends PoolEventBase {
  /** The error, with credentials removed. */
  error: Error
  /** Where it came from: a connection's socket, the pool, or a listener or hook of the user's. */
  source: 'connection' | 'idle-connection' | 'pool' | 'listener'
}
/** `poolCreated` (`onPoolCreated`): the pool was constructed; `target` has no password. */
export interface PoolCreatedEvent extends PoolEventBase {
  /** Where the pool connects, without credentials: `postgres://app@db:5432/orders`. */
  target: string
  /** The lower size bound it was created with. */
  minSize: number
  /** The upper size bound it was created with. */
  maxSize: number
}
/** `acquire` (`onAcquire`): a checkout was granted after `waitMillis`, to `owner`. */
export interface AcquireEvent extends PoolEventBase {
  /** How long the caller waited for the connection (ms); 0 when one was free at once. */
  waitMillis: number
  /** The operation that took the connection; absent outside any operation. */
  owner?: OperationOwner
}
/**
 * `release` (`onRelease`): a checkout ended after `useMillis`. Fired once the connection is back in the pool
 * (or on its way out), so counts read in it are right. It runs as the connection is given back, which may be
 * inside the driver's callback: a listener that queries the pool at once (before any `await`) may get the
 * connection just given back before a socket error in the same read marks it broken.
 */
export interface ReleaseEvent extends PoolEventBase {
  /** How long the connection was checked out (ms). */
  useMillis: number
  /** The operation that held the connection; absent outside any operation. */
  owner?: OperationOwner
}
/** `resize` (`onResize`): the size bounds changed from `previous` to `next`. */
export interface ResizeEvent extends PoolEventBase {
  /** The bounds before the change. */
  previous: { minSize: number; maxSize: number }
  /** The bounds after the change. */
  next: { minSize: number; maxSize: number }
  /** `ResizeOptions.reason`, or `'manual'` when none was given. */
  reason: string
  /** `ResizeOptions.details`, when given. */
  details?: Readonly<Record<string, number>>
}
/** `leak` (`onLeak`): a checkout held past `leakDetectionMillis`, and its release later. */
export interface LeakEvent extends PoolEventBase {
  /**
   * `suspected` when the hold passes `leakDetectionMillis`; `resolved` when it ends later: released, or taken back
   * by a `close()` whose timeout ran out (then a `disconnect` with reason `closed` follows at once).
   */
  state: 'suspected' | 'resolved'
  /** How long the connection had been held (ms): when suspected, about `leakDetectionMillis`; when resolved, the whole hold. */
  heldMillis: number
  /** The operation that took the connection; absent outside any operation. */
  owner?: OperationOwner
  /** Where the connection was taken. */
  stack?: string
}
/** `timeout` (`onTimeout`): a caller gave up waiting for a connection. */
export interface TimeoutEvent extends PoolEventBase {
  /** How long the caller waited before giving up (ms). */
  waitMillis: number
  /** Other callers still waiting at that moment. */
  waitingRequests: number
  /** The last failed connection attempt (redacted), if any. */
  cause?: Error
}
/** `suspend()`: checkouts are held from now on (connections already checked out stay in use). */
export interface SuspendEvent extends PoolEventBase {
  /** Connections checked out at that moment (they stay in use). */
  activeConnections: number
  /** Callers already waiting for a connection at that moment. */
  waitingRequests: number
}
/** `resume()`: held checkouts are served again. */
export interface ResumeEvent extends PoolEventBase {
  /** How long the pool was suspended (ms). */
  suspendedMillis: number
  /** Callers that waited through the suspension and are served now. */
  waitingRequests: number
}
/**
 * `query` (`onQuery`): one statement or command finished on a pool connection, in `durationMillis` from
 * sending it to its answer. Listeners run inside the operation that ran it (`OperationContext.tryCurrent()`
 * names it). Never carries the statement's text or values.
 */
export interface QueryEvent extends PoolEventBase {
  /** From sending the statement or command to its answer (ms). */
  durationMillis: number
  /**
   * What kind of statement it was, when the adapter knows: the SQL keyword naming it (`SELECT`, `INSERT`,
   * `BEGIN`, ...; a `WITH` query's main statement; none for several statements in one text) or the MongoDB
   * command name (`find`, `insert`, ...). Always one of a small set of words.
   */
  operation?: string
  /** The database it ran in, when the adapter knows: PostgreSQL's database, the MongoDB command's database. */
  namespace?: string
  /** Why it failed (redacted), if it did. */
  error?: Error
}

/** Payload of each lifecycle event. */
export interface PoolEventMap {
  /** A new connection opened. */
  connect: ConnectEvent
  /** A connection closed, and why. */
  disconnect: DisconnectEvent
  /** A pool, connection or listener error, redacted. */
  error: PoolErrorEvent
  /** The pool was constructed. */
  poolCreated: PoolCreatedEvent
  /** A checkout was granted. */
  acquire: AcquireEvent
  /** A checkout ended. */
  release: ReleaseEvent
  /** The size bounds changed. */
  resize: ResizeEvent
  /** A checkout was held past `leakDetectionMillis`, or such a checkout was released. */
  leak: LeakEvent
  /** A caller gave up waiting for a connection. */
  timeout: TimeoutEvent
  /** `suspend()` holds checkouts from now on. */
  suspend: SuspendEvent
  /** `resume()` serves held checkouts again. */
  resume: ResumeEvent
  /** A statement or command finished. */
  query: QueryEvent
}
/** The name of a lifecycle event, as `pool.on(name, listener)` takes it. */
export type PoolEventName = keyof PoolEventMap

// Whatever a listener returns is ignored but a promise, whose rejection is reported as a throw would be: so
// `(event) => verbose && log(event)` and async listeners both fit.
/** A listener of event `E`: what it returns is ignored, but a rejected promise is reported as a throw. */
export type Listener<E extends PoolEventName> = (event: PoolEventMap[E]) => unknown

/** The `events` option of a pool: `onConnect`, `onDisconnect`, ... each optional. */
export interface PoolEventListeners {
  /** On `connect`: a new connection opened. */
  onConnect?: Listener<'connect'> | undefined
  /** On `disconnect`: a connection closed, and why. */
  onDisconnect?: Listener<'disconnect'> | undefined
  /** On `error`: a pool, connection or listener error, redacted. */
  onError?: Listener<'error'> | undefined
  /** On `poolCreated`: the pool was constructed. */
  onPoolCreated?: Listener<'poolCreated'> | undefined
  /** On `acquire`: a checkout was granted. */
  onAcquire?: Listener<'acquire'> | undefined
  /** On `release`: a checkout ended. */
  onRelease?: Listener<'release'> | undefined
  /** On `resize`: the size bounds changed. */
  onResize?: Listener<'resize'> | undefined
  /** On `leak`: a checkout was held past `leakDetectionMillis`, or such a checkout was released. */
  onLeak?: Listener<'leak'> | undefined
  /** On `timeout`: a caller gave up waiting for a connection. */
  onTimeout?: Listener<'timeout'> | undefined
  /** On `suspend`: `suspend()` holds checkouts from now on. */
  onSuspend?: Listener<'suspend'> | undefined
  /** On `resume`: `resume()` serves held checkouts again. */
  onResume?: Listener<'resume'> | undefined
  /** On `query`: a statement or command finished. */
  onQuery?: Listener<'query'> | undefined
}

const handlerKeys: Record<keyof PoolEventListeners, PoolEventName> = {
  onConnect: 'connect',
  onDisconnect: 'disconnect',
  onError: 'error',
  onPoolCreated: 'poolCreated',
  onAcquire: 'acquire',
  onRelease: 'release',
  onResize: 'resize',
  onLeak: 'leak',
  onTimeout: 'timeout',
  onSuspend: 'suspend',
  onResume: 'resume',
  onQuery: 'query',
}

const eventNames = Object.values(handlerKeys)

/**
 * The rule of a pool's `events` option: an object of known `on*` listeners (`onConnect`, `onError`, ...) or an
 * array of them. Unknown keys (`onErorr`) and non-functions are `InvalidOptionError`s naming the entry.
 *
 * @example
 * validateOptions('createMyPool', options, { ...otherRules, events: poolEventsRule })
 */
export const poolEventsRule: OptionRule = { type: 'listeners', keys: Object.keys(handlerKeys), optional: true }

/**
 * Several listeners per event, isolated from each other and from the pool: a listener that throws or
 * rejects is reported to the `error` listeners (or `process.emitWarning` if it was an `error` listener
 * itself), never thrown into the pool or the request.
 */
export class PoolEventHub {
  readonly #pool: string
  readonly #kind: string
  readonly #secrets: readonly string[]
  readonly #listeners: { [E in PoolEventName]: Listener<E>[] } = {
    connect: [], disconnect: [], error: [], poolCreated: [], acquire: [], release: [], resize: [], leak: [], timeout: [],
    suspend: [], resume: [], query: [],
  }

  /** @throws {InvalidOptionError} for a listener map with an unknown key or a non-function */
  constructor(pool: string, kind: string, listeners?: PoolEventListeners | readonly PoolEventListeners[], secrets: readonly string[] = []) {
    // Adapters check their `events` option with their own name first; this guards the ones that do not.
    checkOption(`the events of pool '${pool}'`, 'events', listeners, poolEventsRule)
    this.#pool = pool
    this.#kind = kind
    this.#secrets = secrets
    const all: readonly PoolEventListeners[] = listeners === undefined ? [] : Array.isArray(listeners) ? listeners : [listeners as PoolEventListeners]
    for (const set of all) {
      for (const [key, event] of Object.entries(handlerKeys) as [keyof PoolEventListeners, PoolEventName][]) {
        const listener = set[key]
        if (listener !== undefined) this.on(event, listener as Listener<typeof event>)
      }
    }
  }

  /**
   * Adds a listener; returns the function that removes it.
   *
   * @throws {InvalidOptionError} for an unknown event or a listener that is not a function
   */
  on<E extends PoolEventName>(event: E, listener: Listener<E>): () => void {
    checkOption(`pool '${this.#pool}'.on()`, 'event', event, { type: 'oneOf', values: eventNames })
    checkOption(`pool '${this.#pool}'.on('${event}')`, 'listener', listener, { type: 'function' })
    const list = this.#listeners[event] as Listener<E>[]
    list.push(listener)
    let removed = false
    // Once only: a second call must not remove another subscription of the same function.
    return () => {
      if (removed) return
      removed = true
      const index = list.indexOf(listener)
      if (index >= 0) list.splice(index, 1)
    }
  }

  /** True when the event has listeners: lets hot paths skip building a payload nobody reads. */
  has(event: PoolEventName): boolean {
    return this.#listeners[event].length > 0
  }

  /** Number of listeners over all events (tests use it to prove that unsubscribing leaves nothing behind). */
  get listenerCount(): number {
    let count = 0
    for (const list of Object.values(this.#listeners)) count += list.length
    return count
  }

  /** The pool's name and kind, for callers that build whole events (see `dispatch`). */
  get pool(): string {
    return this.#pool
  }

  /** The pool's kind (`postgres`, `mongodb`, ...). */
  get kind(): string {
    return this.#kind
  }

  /** Calls every listener of `event` with the payload; `pool` and `kind` are filled in. */
  emit<E extends PoolEventName>(event: E, payload: Omit<PoolEventMap[E], 'pool' | 'kind'>): void {
    if (this.#listeners[event].length === 0) return
    this.dispatch(event, { pool: this.#pool, kind: this.#kind, ...payload } as PoolEventMap[E])
  }

  /**
   * Calls every listener of `event` with `full`, an event object made for this call (pool and kind
   * included): the per-checkout and per-statement events are built whole, which spares a copy of each.
   */
  dispatch<E extends PoolEventName>(event: E, full: PoolEventMap[E]): void {
    const list = this.#listeners[event] as Listener<E>[]
    if (list.length === 0) return
    // A listener added meanwhile hears from the next event on: the list is copied, unless it holds one listener
    // (the common case, and no copy), which is called alone.
    if (list.length === 1) return this.#deliver(event, list[0] as Listener<E>, full)
    for (const listener of list.slice()) this.#deliver(event, listener, full)
  }

  #deliver<E extends PoolEventName>(event: E, listener: Listener<E>, full: PoolEventMap[E]): void {
    try {
      const result = listener(full)
      // `null` too is a return value, not a failure (`null.then` would throw).
      if (typeof result === 'object' && result !== null && typeof (result as Promise<unknown>).then === 'function') {
        ;(result as Promise<unknown>).then(undefined, (error: unknown) => this.listenerFailed(event, error))
      }
    } catch (error) {
      this.listenerFailed(event, error)
    }
  }

  /**
   * Reports a listener of `event` that threw or rejected: an `error` event with `source: 'listener'`, or a
   * process warning (`LIFEGUARD_LISTENER_FAILED`) when nobody listens for errors or the listener was one of
   * this hub's `error` listeners. Not counted in the pool's `errors`: a listener is the application's code, not
   * the pool's. Adapters call it with `of: 'adapter'` for listeners of their own events (a drop-in's pg-style
   * ones, whose `'error'` is not this hub's).
   */
  listenerFailed(event: string, error: unknown, of: 'hub' | 'adapter' = 'hub'): void {
    // A listener's own error may quote what it was handling (a connection string, a password).
    const wrapped = redactError(error, this.#secrets)
    if ((of === 'hub' && event === 'error') || this.#listeners.error.length === 0) {
      process.emitWarning(`A listener for '${event}' of pool '${this.#pool}' failed: ${wrapped.message}`, { code: 'LIFEGUARD_LISTENER_FAILED' })
      return
    }
    this.emit('error', { error: wrapped, source: 'listener' })
  }
}

/**
 * The seed document's name for a pool's listeners (`onConnect`, `onDisconnect`, `onError`, `onPoolCreated`),
 * here with Lifeguard's others: each listener receives an event object naming the pool (`onError` gets
 * `{ pool, error, source }`).
 *
 * @example
 * const events: ConnectionEvents = { onError: (e) => logger.error('Pool error', { error: e.error }), onConnect: () => logger.info('Connected') }
 * createPostgresPool({ name: 'orders', events })
 */
export type ConnectionEvents = PoolEventListeners
