import type { Clock, ClockTimer } from '../clock.js'
import type { DisconnectReason } from '../pool-events.js'
import type { PoolMonitor } from '../pool-monitor.js'
import type { ConnectionFactory } from './connection-factory.js'
import type { PoolEngineOptions } from './engine-options.js'
import { PooledConnection } from './pooled-connection.js'
import { outsideOperations } from '../context-storage.js'
import { LifeguardError } from '../errors.js'

const firstBackoffMillis = 25
// While callers wait: each retry may be the one that answers them.
const maxBackoffMillis = 500
// Refilling minSize with nobody waiting (a server that is full, or refuses this role): every attempt costs the
// server a backend and the pool an error event, so these slow down further.
const maxBackgroundBackoffMillis = 30_000
// How long a factory gets, once its attempt's signal has aborted, to give up before the engine ends the attempt
// without it.
const ignoredAbortGraceMillis = 2_000

/** What the opener asks of the pool it opens connections for. */
export interface OpenerHost<C> {
  /** The pool's eviction generation: a connection opened before a `softEvict()` is retired on release. */
  readonly generation: number
  /** The driver reported a connection broken (idle, checked out or still opening). */
  broken(lease: PooledConnection<C>, error: Error): void
  /** A connection opened: it belongs to the pool from now on. */
  adopt(lease: PooledConnection<C>): void
  retire(lease: PooledConnection<C>, reason: DisconnectReason): void
  /** Something the pool's close() may be waiting for has finished. */
  settled(): void
  /** The backoff after a failed attempt is over: open what is still needed. */
  retry(): void
  /** True while callers wait: then a pending retry keeps the process alive. */
  readonly callersWaiting: boolean
}

/**
 * Opens and validates connections for a `PoolEngine`: connection attempts bounded by a timeout and
 * abandoned on close, jittered lifetimes, validation with a timeout, and exponential backoff after failures
 * (25 ms doubling to 500 ms while callers wait, to 30 s while only `minSize` is being refilled). It keeps the counts of connections being opened or validated, which
 * the pool counts as pending.
 */
export class ConnectionOpener<C> {
  readonly #options: PoolEngineOptions<C>
  readonly #factory: ConnectionFactory<C>
  readonly #monitor: PoolMonitor
  readonly #clock: Clock
  readonly #host: OpenerHost<C>
  /** Each attempt in flight, with when it started (oldest first). */
  readonly #attempts = new Map<AbortController, number>()
  // Set by `abandon()`: an attempt that fails from then on was cut short by the close, not by the server.
  #abandoned: Error | undefined
  #whenSettled: (() => void)[] = []
  #creating = 0
  #validating = 0
  #retry: ClockTimer | undefined
  // When the retry fires (`clock.now()`), and whether it lets the process exit (set for minSize alone).
  #retryDue = 0
  #retryInBackground = false
  #backoffMillis = firstBackoffMillis
  #lastError: Error | undefined
  /** Each validation in flight, with how to give it up (see `abandonValidation`). */
  readonly #checks = new Map<PooledConnection<C>, (reason: Error) => void>()

  constructor(options: PoolEngineOptions<C>, host: OpenerHost<C>) {
    this.#options = options
    this.#factory = options.factory
    this.#monitor = options.monitor
    this.#clock = options.monitor.clock
    this.#host = host
  }

  /** Connections being opened. */
  get creating(): number {
    return this.#creating
  }
  /** Connections being validated. */
  get validating(): number {
    return this.#validating
  }
  /** True while waiting out the backoff after a failed attempt. */
  get backingOff(): boolean {
    return this.#retry !== undefined
  }
  /** The last failed attempt (redacted); cleared by the next success, or by a retry that finds nothing to open. */
  get lastError(): Error | undefined {
    return this.#lastError
  }
  /** When the oldest connection attempt still in flight started (`clock.now()`); undefined when none is. */
  get oldestAttemptStartedAt(): number | undefined {
    for (const started of this.#attempts.values()) return started
    return undefined
  }

  /**
   * One connection attempt, bounded by `timeoutMillis` (0: the driver's own limit). `opened` and `failed`
   * are called in the same turn as the count changes, so the pool's totals never miss a connection;
   * `failed` gets the failure already reported and redacted.
   *
   * @param timeoutMessage - what a timeout says, when a limit of the caller's (not `connectTimeoutMillis`) set it
   */
  open(timeoutMillis: number, opened: (lease: PooledConnection<C>) => void, failed: (error: Error) => void, timeoutMessage?: string): void {
    // Outside the operation that asked for it: a connection outlives its request, and what is made for it
    // (the driver's socket and callbacks, the attempt's timer, closures the connection keeps) would keep that
    // request's context for the connection's life, and run the connection's own events in it.
    outsideOperations(() => this.#open(timeoutMillis, opened, failed, timeoutMessage))
  }

  #open(timeoutMillis: number, opened: (lease: PooledConnection<C>) => void, failed: (error: Error) => void, timeoutMessage: string | undefined): void {
    this.#creating++
    const lease = new PooledConnection<C>()
    lease.generation = this.#host.generation
    const attempt = new AbortController()
    const started = this.#clock.now()
    this.#attempts.set(attempt, started)
    const option = this.#options.connectTimeoutOption ?? 'connectTimeoutMillis'
    const timedOut = (): Error => new LifeguardError('ERR_CONNECT_TIMEOUT', timeoutMessage ?? `Connection attempt timed out after ${timeoutMillis}ms (${option}).`)
    // Set once the attempt has ended, by the factory or, for one that ignores its signal, by the engine.
    let ended = false
    let timer = timeoutMillis > 0 ? this.#clock.setTimeout(() => attempt.abort(timedOut()), timeoutMillis) : undefined
    // However the attempt is abandoned (its timeout, the pool's close): a factory that ignores its signal would
    // hold the attempt, a place in the pool, a warm-up or a close for good. It gets time to give up, then the
    // attempt ends without it. (Set before a close starts its own wait of as long for the attempts, so it fires
    // first.)
    attempt.signal.addEventListener(
      'abort',
      () => {
        if (timer !== undefined) this.#clock.clearTimeout(timer)
        timer = this.#clock.setTimeout(() => {
          if (ended) return
          ended = true
          settle()
          failed(report(attempt.signal.reason))
        }, ignoredAbortGraceMillis)
      },
      { once: true },
    )
    const settle = () => {
      this.#creating--
      this.#attempts.delete(attempt)
      if (timer !== undefined) this.#clock.clearTimeout(timer)
      if (this.#attempts.size === 0) for (const done of this.#whenSettled.splice(0)) done()
    }
    // The pool's own close is no connection error: not counted, not sent as an `error` event, not `lastError`.
    const report = (error: unknown): Error => {
      if (attempt.signal.aborted && attempt.signal.reason === this.#abandoned) return this.#abandoned as Error
      return (this.#lastError = this.#monitor.error(error, 'connection'))
    }
    let creating: Promise<C>
    try {
      creating = this.#factory.create({ lease, signal: attempt.signal, broken: (error) => this.#host.broken(lease, error) })
    } catch (error) {
      creating = Promise.reject(error)
    }
    creating.then(
      (connection) => {
        // Opened after the attempt was given up on: closed as any connection the pool retires (counted as closing
        // while it closes, with its connect and disconnect events), and nobody waits for it.
        const late = ended
        if (!late) settle()
        ended = true
        const now = this.#clock.now()
        lease.connection = connection
        lease.id = this.#factory.idOf?.(connection)
        lease.openedAt = now
        lease.idleSince = now
        const lifetime = this.#options.maxLifetimeMillis
        if (lifetime > 0) lease.expiresAt = now + lifetime - (this.#options.random ?? Math.random)() * this.#options.maxLifetimeJitterMillis
        this.#host.adopt(lease)
        this.#monitor.connected(lease.id ?? 0, now - started)
        if (late) return this.#host.retire(lease, 'closed')
        this.#lastError = undefined
        this.#backoffMillis = firstBackoffMillis
        if (lease.broken === undefined && !this.#factory.isBroken(connection) && !attempt.signal.aborted) return opened(lease)
        const error = lease.broken ?? (attempt.signal.aborted ? (attempt.signal.reason as Error) : new Error('The connection broke as it opened.'))
        this.#host.retire(lease, attempt.signal.aborted ? 'closed' : 'error')
        failed(report(error))
      },
      (error: unknown) => {
        if (ended) return
        ended = true
        settle()
        failed(report(attempt.signal.aborted ? attempt.signal.reason : error))
      },
    )
  }

  /**
   * Validates an idle (or, for warm-up, just opened) connection; `valid` gets it back, `invalid` gets the
   * (redacted) reason after it was closed.
   *
   * @param timeoutMessage - what a timeout says, when a limit of the caller's (not `connectTimeoutMillis`) set it
   */
  validate(lease: PooledConnection<C>, timeoutMillis: number, valid: (lease: PooledConnection<C>) => void, invalid: (error: Error) => void, timeoutMessage?: string): void {
    lease.state = 'validating'
    this.#validating++
    const validate = this.#factory.validate
    let checking: Promise<boolean | void>
    try {
      checking = validate === undefined ? Promise.resolve(true) : Promise.resolve(validate.call(this.#factory, lease.connection))
    } catch (error) {
      // A factory's validate that throws rather than rejects fails that connection, as a rejection would.
      checking = Promise.reject(error)
    }
    // A validation that never answers must not hold its caller forever.
    let timer: ClockTimer | undefined
    const check =
      validate === undefined || timeoutMillis <= 0
        ? checking
        : Promise.race([checking, new Promise<never>((_, reject) => (timer = this.#clock.setTimeout(() => reject(new Error(timeoutMessage ?? `Validation timed out after ${timeoutMillis}ms.`)), timeoutMillis)))])
    const settle = (): void => {
      this.#checks.delete(lease)
      if (timer !== undefined) this.#clock.clearTimeout(timer)
    }
    // close() may give up on it (see `abandonValidation`): its caller then gets that reason.
    this.#checks.set(lease, (reason) => {
      settle()
      invalid(reason)
    })
    const fail = (error: unknown) => {
      // Taken back by close() meanwhile: counted, closed and answered already.
      if (lease.revoked) return
      settle()
      this.#validating--
      const safe = lease.broken === undefined ? this.#monitor.error(error, 'connection') : this.#monitor.stats.redact(error)
      this.#host.retire(lease, 'error')
      this.#host.settled()
      invalid(safe)
    }
    check.then((result) => {
      if (lease.revoked) return
      if (result === false || lease.broken !== undefined) return fail(lease.broken ?? new Error('The connection failed validation.'))
      settle()
      this.#validating--
      lease.idleSince = this.#clock.now()
      valid(lease)
    }, fail)
  }

  /**
   * Waits out the backoff (doubling up to 500 ms while callers wait, up to 30 s for `minSize` alone), then asks
   * the pool to open what it still needs.
   */
  scheduleRetry(): void {
    if (this.#retry !== undefined) return
    const background = !this.#host.callersWaiting
    const delay = Math.min(this.#backoffMillis, background ? maxBackgroundBackoffMillis : maxBackoffMillis)
    this.#backoffMillis = Math.min(this.#backoffMillis * 2, maxBackgroundBackoffMillis)
    // Waiting callers keep the process alive; refilling minSize alone does not.
    this.#armRetry(delay, background)
  }

  /**
   * A caller started waiting: a retry under way for minSize alone now comes within the callers' backoff, and
   * holds the process too, or a script whose query waits behind it would exit before it is answered.
   */
  callerWaiting(): void {
    if (this.#retry === undefined || !this.#retryInBackground) return
    this.#clock.clearTimeout(this.#retry)
    this.#armRetry(Math.min(maxBackoffMillis, Math.max(0, this.#retryDue - this.#clock.now())), false)
  }

  #armRetry(delay: number, background: boolean): void {
    this.#retryDue = this.#clock.now() + delay
    this.#retryInBackground = background
    this.#retry = outsideOperations(() =>
      this.#clock.setTimeout(
        () => {
          this.#retry = undefined
          const attempts = this.#attempts.size
          this.#host.retry()
          // Nothing left to open and nobody waiting (a connection came back and served the waiters): the failure
          // that armed this retry is history, not the cause of a later timeout of a pool that is merely busy. (A
          // suspended pool opens nothing for its waiters: their timeouts keep it.)
          if (this.#attempts.size === attempts && !this.#host.callersWaiting) this.#lastError = undefined
        },
        delay,
        background,
      ),
    )
  }

  /**
   * Gives up on `lease`'s validation (close() timed out: a server that never answers `SELECT 1` would hold the
   * close until the check's own limit, see `validationTimeoutMillis`). It no longer counts as pending, it is closed,
   * and whoever it was validated for (a warm-up, a waiter) gets `reason`; the check's late answer is ignored.
   */
  abandonValidation(lease: PooledConnection<C>, reason: Error): void {
    if (lease.state !== 'validating' || lease.revoked) return
    lease.revoked = true
    this.#validating--
    this.#host.retire(lease, 'closed')
    this.#checks.get(lease)?.(reason)
  }

  /** Stops retrying (the pool is closing). */
  stop(): void {
    if (this.#retry !== undefined) this.#clock.clearTimeout(this.#retry)
    this.#retry = undefined
  }

  /** Abandons every attempt in flight (close timed out). */
  abandon(reason: Error): void {
    this.#abandoned = reason
    for (const attempt of this.#attempts.keys()) attempt.abort(reason)
  }

  /** Calls `done` once no connection attempt is left (at once when none is). */
  whenSettled(done: () => void): void {
    if (this.#attempts.size === 0) done()
    else this.#whenSettled.push(done)
  }
}
