/**
 * Every error Lifeguard throws is a `LifeguardError` with a stable `code` (or, for several failures at
 * once, an `AggregateError` with one: see the end of this file). Callers branch on `code` or `instanceof`,
 * never on the message.
 */
export class LifeguardError extends Error {
  /** The class's name; each subclass sets its own literal (`'PoolTimeoutError'`, ...). */
  override readonly name: string = 'LifeguardError'
  /** Stable machine-readable code, e.g. `'ERR_POOL_TIMEOUT'`. */
  readonly code: string

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.code = code
  }
}

/**
 * @internal True for a Lifeguard error with this `code`, from this copy of core or from another one installed
 * beside it (whose classes `instanceof` does not know).
 */
export function hasErrorCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === code
}

/** An option is missing, unknown, of the wrong type or out of its allowed range. */
export class InvalidOptionError extends LifeguardError {
  /** Always `'InvalidOptionError'`. */
  override readonly name = 'InvalidOptionError'
  /** Always `'ERR_INVALID_OPTION'`. */
  declare readonly code: 'ERR_INVALID_OPTION'
  /** The option's name, e.g. `maxSize`. */
  readonly option: string
  /** What the option accepts, e.g. `an integer >= 1`. */
  readonly expected: string

  constructor(option: string, expected: string, message: string) {
    super('ERR_INVALID_OPTION', message)
    this.option = option
    this.expected = expected
  }
}

/** A name was registered twice, or a registration is malformed. */
export class RegistrationError extends LifeguardError {
  /** Always `'RegistrationError'`. */
  override readonly name = 'RegistrationError'
  /** Always `'ERR_REGISTRATION'`. */
  declare readonly code: 'ERR_REGISTRATION'
  constructor(message: string) {
    super('ERR_REGISTRATION', message)
  }
}

/** Why a service could not be resolved. */
export type ResolutionFailure = 'unknown' | 'cycle' | 'lifetime' | 'factory'

/** A service could not be resolved: unknown name, cycle, lifetime mismatch, or a failing factory. */
export class ResolutionError extends LifeguardError {
  /** Always `'ResolutionError'`. */
  override readonly name = 'ResolutionError'
  /** Always `'ERR_RESOLUTION'`. */
  declare readonly code: 'ERR_RESOLUTION'
  /** The chain of names being resolved, outermost first. */
  readonly path: readonly string[]
  /** Why: `unknown` name, `cycle`, `lifetime` (a singleton needing a scoped service) or failing `factory` (see `cause`). */
  readonly reason: ResolutionFailure

  constructor(reason: ResolutionFailure, path: readonly string[], message: string, options?: { cause?: unknown }) {
    super('ERR_RESOLUTION', `${message}\nResolution path: ${path.join(' -> ')}`, options)
    this.reason = reason
    this.path = path
  }
}

/** A container, scope or context was used after `dispose()`. */
export class DisposedError extends LifeguardError {
  /** Always `'DisposedError'`. */
  override readonly name = 'DisposedError'
  /** Always `'ERR_DISPOSED'`. */
  declare readonly code: 'ERR_DISPOSED'
  /** The chain of names being resolved when the disposed scope was hit, outermost first; empty outside a resolve. */
  readonly path: readonly string[]
  constructor(message: string, path: readonly string[] = []) {
    super('ERR_DISPOSED', path.length > 0 ? `${message}\nResolution path: ${path.join(' -> ')}` : message)
    this.path = path
  }
}

/**
 * A disposer, or an async factory still pending when its scope was disposed, did not settle within the
 * container's `disposeTimeoutMillis`. `dispose()` went on without it; the disposer keeps running.
 */
export class DisposeTimeoutError extends LifeguardError {
  /** Always `'DisposeTimeoutError'`. */
  override readonly name = 'DisposeTimeoutError'
  /** Always `'ERR_DISPOSE_TIMEOUT'`. */
  declare readonly code: 'ERR_DISPOSE_TIMEOUT'
  /** The service whose disposer hung, or the services whose async factories were still pending (comma-separated). */
  readonly service: string
  /** `'disposer'`, or `'factory'` for async factories still pending when the scope was disposed. */
  readonly waitedFor: 'disposer' | 'factory'
  /** The container's `disposeTimeoutMillis` that ran out (ms). */
  readonly timeoutMillis: number
  constructor(service: string, timeoutMillis: number, waitedFor: 'disposer' | 'factory' = 'disposer') {
    const what = waitedFor === 'factory' ? `The async factory of '${service}'` : `The disposer of '${service}'`
    super('ERR_DISPOSE_TIMEOUT', `${what} did not settle within ${timeoutMillis}ms (disposeTimeoutMillis). The scope was disposed without waiting for it.`)
    this.service = service
    this.waitedFor = waitedFor
    this.timeoutMillis = timeoutMillis
  }
}

/** `OperationContext.current()` was called outside any operation. */
export class ContextUnavailableError extends LifeguardError {
  /** Always `'ContextUnavailableError'`. */
  override readonly name = 'ContextUnavailableError'
  /** Always `'ERR_CONTEXT_UNAVAILABLE'`. */
  declare readonly code: 'ERR_CONTEXT_UNAVAILABLE'
  constructor(message = 'Could not find the current operation context. Call this inside middleware, runOperation() or context.run().') {
    super('ERR_CONTEXT_UNAVAILABLE', message)
  }
}

/** No pool of that name is registered. */
export class PoolNotFoundError extends LifeguardError {
  /** Always `'PoolNotFoundError'`. */
  override readonly name = 'PoolNotFoundError'
  /** Always `'ERR_POOL_NOT_FOUND'`. */
  declare readonly code: 'ERR_POOL_NOT_FOUND'
  /** The name asked for. */
  readonly pool: string
  constructor(pool: string, known: readonly string[]) {
    super(
      'ERR_POOL_NOT_FOUND',
      `Could not find pool '${pool}'. Known pools: ${known.length > 0 ? known.map((n) => `'${n}'`).join(', ') : '(none)'}.`,
    )
    this.pool = pool
  }
}

/** Waiting for a connection took longer than `acquireTimeoutMillis`. The cause is the last connect error, if any. */
export class PoolTimeoutError extends LifeguardError {
  /** Always `'PoolTimeoutError'`. */
  override readonly name = 'PoolTimeoutError'
  /** Always `'ERR_POOL_TIMEOUT'`. */
  declare readonly code: 'ERR_POOL_TIMEOUT'
  /** The pool's name. */
  readonly pool: string
  /** How long the caller waited (ms): the pool's `acquireTimeoutMillis`. */
  readonly timeoutMillis: number
  /** Other requests still waiting when it timed out, when the pool said. */
  readonly waiting: number | undefined
  constructor(pool: string, timeoutMillis: number, options?: { cause?: unknown; waiting?: number | undefined; connecting?: number | undefined }) {
    const waiting = options?.waiting === undefined ? '' : ` ${options.waiting} other request(s) were waiting.`
    // Said apart from the waiters: against a server that accepts and never answers, the pool is not busy.
    const connecting = options?.connecting === undefined || options.connecting === 0 ? '' : ` ${options.connecting} connection attempt(s) were still pending.`
    super('ERR_POOL_TIMEOUT', `Could not acquire a connection from pool '${pool}'. Timed out after ${timeoutMillis}ms.${waiting}${connecting}`, options)
    this.pool = pool
    this.timeoutMillis = timeoutMillis
    this.waiting = options?.waiting
  }
}

/** `maxWaitingRequests` requests were already waiting: rejected at once rather than queued. */
export class PoolExhaustedError extends LifeguardError {
  /** Always `'PoolExhaustedError'`. */
  override readonly name = 'PoolExhaustedError'
  /** Always `'ERR_POOL_EXHAUSTED'`. */
  declare readonly code: 'ERR_POOL_EXHAUSTED'
  /** The pool's name. */
  readonly pool: string
  /** The pool's `maxWaitingRequests`: how many callers may wait at once. */
  readonly maxWaitingRequests: number
  constructor(pool: string, maxWaitingRequests: number) {
    super(
      'ERR_POOL_EXHAUSTED',
      `Could not acquire a connection from pool '${pool}'. The pool is exhausted: ${maxWaitingRequests} request(s) are already waiting (maxWaitingRequests).`,
    )
    this.pool = pool
    this.maxWaitingRequests = maxWaitingRequests
  }
}

/** The pool is closing or closed. */
export class PoolClosedError extends LifeguardError {
  /** Always `'PoolClosedError'`. */
  override readonly name = 'PoolClosedError'
  /** Always `'ERR_POOL_CLOSED'`. */
  declare readonly code: 'ERR_POOL_CLOSED'
  /** The pool's name. */
  readonly pool: string
  constructor(pool: string, action = 'acquire a connection from') {
    super('ERR_POOL_CLOSED', `Could not ${action} pool '${pool}'. The pool is closed.`)
    this.pool = pool
  }
}

/**
 * A pool had not closed `waitedMillis` after `registry.close()` asked it to: its own `close()` outlasted the
 * timeout it was given plus a grace for ending its connections. The pool stays registered (it may still hold
 * connections); a later `registry.close()` asks again.
 */
export class PoolCloseTimeoutError extends LifeguardError {
  /** Always `'PoolCloseTimeoutError'`. */
  override readonly name = 'PoolCloseTimeoutError'
  /** Always `'ERR_POOL_CLOSE_TIMEOUT'`. */
  declare readonly code: 'ERR_POOL_CLOSE_TIMEOUT'
  /** The pool's name. */
  readonly pool: string
  /** How long the registry waited (ms): the close's `timeoutMillis` plus the grace. */
  readonly waitedMillis: number
  constructor(pool: string, waitedMillis: number) {
    super('ERR_POOL_CLOSE_TIMEOUT', `Could not close pool '${pool}'. It had not closed ${waitedMillis}ms after it was asked to; it stays registered.`)
    this.pool = pool
    this.waitedMillis = waitedMillis
  }
}

/** Warm-up could not open a single connection. The cause is the driver's (redacted) error. */
export class PoolWarmupError extends LifeguardError {
  /** Always `'PoolWarmupError'`. */
  override readonly name = 'PoolWarmupError'
  /** Always `'ERR_POOL_WARMUP'`. */
  declare readonly code: 'ERR_POOL_WARMUP'
  /** The pool's name. */
  readonly pool: string
  constructor(pool: string, target: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_POOL_WARMUP', `Could not warm up pool '${pool}' (${target}). ${reason}`, options)
    this.pool = pool
  }
}

/** The operation's signal aborted (client went away or deadline passed) while it waited. */
export class OperationAbortedError extends LifeguardError {
  /** Always `'OperationAbortedError'`. */
  override readonly name = 'OperationAbortedError'
  /** Always `'ERR_OPERATION_ABORTED'`. */
  declare readonly code: 'ERR_OPERATION_ABORTED'
  /**
   * True when it ended a wait for a connection: the pool had none to give (with a deadline as the cause, that
   * is pool pressure, and the HTTP adapters' 503 mapping treats it so).
   */
  readonly queued: boolean
  constructor(action: string, options?: { cause?: unknown; queued?: boolean }) {
    super('ERR_OPERATION_ABORTED', `Could not ${action}. The operation was aborted.`, options)
    this.queued = options?.queued === true
  }
}

/**
 * A database connection failed while a caller was using it (the server restarted or terminated the
 * session, the network dropped). The connection is closed, never reused. The cause is the driver's or
 * server's error (redacted), e.g. PostgreSQL's `57P01` "terminating connection due to administrator command".
 *
 * Whether a retry is safe depends on what was in flight: see `mayHaveCommitted`.
 */
export class ConnectionLostError extends LifeguardError {
  /** Always `'ConnectionLostError'`. */
  override readonly name = 'ConnectionLostError'
  /** Always `'ERR_CONNECTION_LOST'`. */
  declare readonly code: 'ERR_CONNECTION_LOST'
  /** The pool's name. */
  readonly pool: string
  /**
   * False when the work cannot have taken effect, so a retry is safe: the connection failed before
   * the statement was sent, or inside a transaction before `COMMIT` was sent (the server rolls it back).
   * True when it may have (a statement outside a transaction, or a lost `COMMIT`): retry only what is
   * idempotent.
   */
  readonly mayHaveCommitted: boolean
  constructor(pool: string, action: string, mayHaveCommitted: boolean, options: { cause: unknown }) {
    const reason = options.cause instanceof Error ? options.cause.message.replace(/\.$/, '') : String(options.cause)
    super('ERR_CONNECTION_LOST', `Could not ${action} on pool '${pool}'. The connection was lost: ${reason}.`, options)
    this.pool = pool
    this.mayHaveCommitted = mayHaveCommitted
  }
}

/*
 * Where several things fail at once, the failures travel together in an `AggregateError` (so `errors` holds
 * each one and `instanceof AggregateError` holds), with a `code` and `name` like every other Lifeguard error.
 */

/** Disposers failed while a scope, container or operation was disposed; `errors` holds each failure (they all ran). */
export class DisposeFailedError extends AggregateError {
  /** Always `'DisposeFailedError'`. */
  override readonly name = 'DisposeFailedError'
  /** Always `'ERR_DISPOSE_FAILED'`. */
  readonly code = 'ERR_DISPOSE_FAILED'
}

/** `registry.warmup()` failed for at least one pool; `errors` holds each pool's `PoolWarmupError`. */
export class RegistryWarmupError extends AggregateError {
  /** Always `'RegistryWarmupError'`. */
  override readonly name = 'RegistryWarmupError'
  /** Always `'ERR_REGISTRY_WARMUP'`. */
  readonly code = 'ERR_REGISTRY_WARMUP'
}

/** `registry.close()` failed for at least one pool (the others were closed); `errors` holds each pool's failure. */
export class RegistryCloseError extends AggregateError {
  /** Always `'RegistryCloseError'`. */
  override readonly name = 'RegistryCloseError'
  /** Always `'ERR_REGISTRY_CLOSE'`. */
  readonly code = 'ERR_REGISTRY_CLOSE'
}
