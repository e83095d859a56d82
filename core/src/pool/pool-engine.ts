import type { Clock } from '../clock.js'
import { OperationAbortedError, PoolClosedError, PoolExhaustedError } from '../errors.js'
import { OperationContext } from '../operation-context.js'
import { liveOperation, refusedForAbort } from '../operation-hooks.js'
import type { LivePoolState } from '../pool-stats.js'
import type { PoolSize, PoolState, ResizeOptions, SoftEvictReport, WarmupOptions, WarmupReport } from '../pool-contract.js'
import type { DisconnectReason } from '../pool-events.js'
import type { PoolMonitor } from '../pool-monitor.js'
import { waitQueueHooks } from './wait-queue-hooks.js'
import { attemptFailureHandler } from './attempt-failure.js'
import type { ConnectionFactory } from './connection-factory.js'
import { needsValidation, releaseVerdict, unusableReason, usable } from './connection-health.js'
import type { PoolEngineOptions } from './engine-options.js'
import { GracefulClose } from './graceful-close.js'
import { PoolLifecycle } from './pool-lifecycle.js'
import { ConnectionOpener } from './connection-opener.js'
import { IdleList } from './idle-list.js'
import { ParkedList } from './parked-list.js'
import { OpenConnections } from './open-connections.js'
import { PoolWarmup } from './pool-warmup.js'
import { PooledConnection } from './pooled-connection.js'
import { WaitQueue, type Grant, type Waiter } from './wait-queue.js'
import { WaiterDispatch } from './waiter-dispatch.js'

/**
 * A connection pool that owns its checkout path, for any driver: idle connections (LIFO, so the warmest
 * is reused and surplus ones age out), checked-out connections, connections being opened, and one FIFO
 * queue of waiters with deadlines and abort signals. A driver supplies only a `ConnectionFactory`.
 *
 * Its counts are exact at every instant: `totalCount = activeCount + idleCount + pendingCount`, and
 * `waitingCount` is the queue's length. It keeps `minSize` open once in use, closes idle connections
 * after `idleTimeoutMillis` and every connection after its (jittered) lifetime, resizes in place,
 * validates connections that sat idle, and reports every step to its `PoolMonitor`. For maintenance it
 * can hold checkouts (`suspend()` / `resume()`) and retire its connections (`softEvict()`).
 */
export class PoolEngine<C> {
  /** The pool's name, for errors. */
  readonly name: string
  readonly #options: PoolEngineOptions<C>
  readonly #factory: ConnectionFactory<C>
  readonly #monitor: PoolMonitor
  readonly #clock: Clock
  readonly #queue: WaitQueue<C>
  /** Idle connections; the most recently released is last. */
  readonly #idle: IdleList<C>
  /** Connections a shrink kept open above `maxSize` for a while, for a grow to reuse. */
  readonly #parked: ParkedList<C>
  /** Until then, a connection over `maxSize` is parked rather than closed (set by `resize`). */
  #keepSurplusUntil = 0
  /** Every open connection (idle, parked, validating, busy), so close() can reach each; it counts the ones closing. */
  readonly #connections: OpenConnections<C>
  #active = 0
  #minSize: number
  #maxSize: number
  readonly #lifecycle: PoolLifecycle
  /** Set by the first checkout or warm-up: from then on `minSize` connections are kept open. */
  #started = false
  readonly #opener: ConnectionOpener<C>
  #suspended = false
  #suspendedAt = 0
  readonly #closer: GracefulClose<C>
  readonly #dispatch: WaiterDispatch<C>
  readonly #warmer: PoolWarmup<C>
  readonly #offerBound = (lease: PooledConnection<C>): void => this.#offer(lease)
  readonly #createFailedBound: (error: Error) => void

  constructor(options: PoolEngineOptions<C>) {
    this.name = options.name
    this.#options = options
    this.#factory = options.factory
    this.#monitor = options.monitor
    this.#clock = options.monitor.clock
    this.#minSize = options.minSize
    this.#maxSize = options.maxSize
    this.#lifecycle = new PoolLifecycle(options.name)
    this.#idle = new IdleList<C>({
      clock: this.#clock,
      idleTimeoutMillis: options.idleTimeoutMillis,
      aboveMinimum: () => this.totalCount > this.#minSize,
      retire: (lease, reason) => this.#connections.retire(lease, reason),
      swept: () => this.#fill(),
    })
    this.#parked = new ParkedList<C>({ clock: this.#clock, retire: (lease, reason) => this.#connections.retire(lease, reason) })
    this.#connections = new OpenConnections<C>(options, this.#idle, this.#parked, () => this.#fill())
    const engine = this
    this.#opener = new ConnectionOpener<C>(options, {
      get generation() {
        return engine.#connections.generation
      },
      get callersWaiting() {
        return engine.#queue.length > 0
      },
      broken: (lease, error) => this.#connections.broken(lease, error),
      adopt: (lease) => this.#connections.adopt(lease),
      retire: (lease, reason) => this.#connections.retire(lease, reason),
      settled: () => this.#closer.checkDrained(),
      retry: () => this.#fill(),
    })
    // After the opener, whose attempts a timeout names as its cause; the close is read only when a waiter leaves.
    this.#queue = new WaitQueue<C>(waitQueueHooks(options, this, this.#opener, (error) => this.#closer.waiterLeft(error)))
    const parts = { queue: this.#queue, idle: this.#idle, opener: this.#opener, connections: this.#connections }
    this.#dispatch = new WaiterDispatch<C>(options, parts, {
      get suspended() {
        return engine.#suspended
      },
      grant: (lease, waiter, now) => this.#grant(lease, waiter, now),
      offer: this.#offerBound,
      fill: () => this.#fill(),
      openForWaiter: () => this.#openForWaiter(),
    })
    // The close reads the engine's own counts: activeCount, totalCount, maxSize, suspended.
    this.#closer = new GracefulClose<C>(options, this, {
      ...parts,
      parked: this.#parked,
      revoked: () => {
        this.#active--
      },
      // An idle connection a release (or a request) was about to hand to a waiter goes to it, not closed.
      serveIdle: () => this.#dispatch.serveIdle(),
      fill: () => this.#fill(),
    })
    this.#createFailedBound = attemptFailureHandler<C>(options, { ...parts, lifecycle: this.#lifecycle, dispatch: this.#dispatch, closer: this.#closer, suspended: () => this.#suspended, fill: (waitersOnly) => this.#fill(waitersOnly) })
    // The warm-up reads the engine's own counts: minSize, maxSize, totalCount, waitingCount.
    this.#warmer = new PoolWarmup<C>(options, this, {
      ...parts,
      lifecycle: this.#lifecycle,
      start: () => {
        this.#started = true
        // Connections a shrink kept open serve before any new one is opened.
        while (this.#parked.length > 0 && this.#room() > 0) this.#unpark()
      },
      room: () => this.#room(),
      offer: this.#offerBound,
      createFailed: this.#createFailedBound,
      fill: () => this.#fill(),
    })
  }

  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`. */
  get state(): PoolState {
    return this.#lifecycle.state
  }
  /** Open connections, plus the ones being opened or validated. */
  get totalCount(): number {
    return this.#idle.length + this.#active + this.#opener.creating + this.#opener.validating
  }
  /** Open connections nobody holds (not counting parked ones). */
  get idleCount(): number {
    return this.#idle.length
  }
  /** Connections checked out now. */
  get activeCount(): number {
    return this.#active
  }
  /** Connections being opened or validated. */
  get pendingCount(): number {
    return this.#opener.creating + this.#opener.validating
  }
  /** Callers waiting for a connection. */
  get waitingCount(): number {
    return this.#queue.length
  }
  /** The current lower size bound: connections kept open once the pool is in use. */
  get minSize(): number {
    return this.#minSize
  }
  /** The current upper size bound (it follows `resize()`). */
  get maxSize(): number {
    return this.#maxSize
  }
  /** Checked-out connections past their lifetime or use count: closed when released. */
  get expiredCount(): number {
    return this.#connections.expired(this.#clock.now())
  }
  /** True between `suspend()` and `resume()`: checkouts wait, no connection is opened for them. */
  get suspended(): boolean {
    return this.#suspended
  }
  /** The last failed connection attempt (redacted); cleared by the next success, or by a retry that finds nothing to open. */
  get lastCreateError(): Error | undefined {
    return this.#opener.lastError
  }

  /** The live counts, for `PoolMonitor.snapshot()`. */
  liveState(): LivePoolState {
    return {
      totalConnections: this.totalCount,
      activeConnections: this.#active,
      idleConnections: this.#idle.length,
      waitingRequests: this.#queue.length,
      minSize: this.#minSize,
      maxSize: this.#maxSize,
      suspended: this.#suspended,
      closingConnections: this.#connections.retiring,
      parkedConnections: this.#parked.length,
    }
  }

  /**
   * Checks out an idle connection at once when one is free and nobody is waiting; undefined otherwise
   * (then call `request`). The fast path of a busy pool: no promise, no timer.
   */
  tryAcquire(context: OperationContext | undefined): PooledConnection<C> | undefined {
    if (this.#queue.length > 0 || this.#idle.length === 0 || this.#lifecycle.closing || this.#suspended) return undefined
    if (refusedForAbort(context)) return undefined
    const now = this.#clock.now()
    const lease = this.#takeIdle(now)
    if (lease !== undefined) this.#checkOut(lease, 0, context, undefined, now)
    return lease
  }

  /**
   * Asks for a connection; `grant` is called once, with the connection or with the error: the pool is
   * closed (`PoolClosedError`), the operation aborted (`OperationAbortedError`), too many wait
   * (`PoolExhaustedError`), the wait timed out (`PoolTimeoutError`, cause: the last connect error, else
   * the connection attempt still pending, if any), or a
   * connection attempt failed for good. It may be called before `request` returns.
   *
   * @param context - the operation asking (its signal bounds the wait); default: the current one
   * @param first - served before every other waiter (and not counted against `maxWaitingRequests`): for the
   *   pool's own control queries, such as a connection budget's count
   */
  request(grant: Grant<C>, context: OperationContext | undefined = liveOperation(), first = false): void {
    if (this.#lifecycle.closing) return grant(new PoolClosedError(this.name), undefined)
    if (refusedForAbort(context)) return grant(new OperationAbortedError(`acquire a connection from pool '${this.name}'`, { cause: context.signal.reason }), undefined)
    this.#started = true
    if (this.#queue.length === 0 && !this.#suspended) {
      const now = this.#clock.now()
      const lease = this.#takeIdle(now)
      if (lease !== undefined) {
        this.#checkOut(lease, 0, context, undefined, now)
        return grant(undefined, lease)
      }
    }
    const maxWaiting = this.#options.maxWaitingRequests
    if (!first && maxWaiting !== undefined && this.#inLine() >= maxWaiting) {
      this.#monitor.rejected()
      return grant(new PoolExhaustedError(this.name, maxWaiting), undefined)
    }
    const now = this.#clock.now()
    const timeout = this.#options.acquireTimeoutMillis
    const deadline = timeout > 0 ? now + timeout : Infinity
    const waiter = { grant, askedAt: now, deadline, context, origin: this.#monitor.captureOrigin(), settled: false }
    if (first) this.#queue.pushFront(waiter)
    else this.#queue.push(waiter)
    if (this.#opener.backingOff) this.#opener.callerWaiting()
    // An idle connection may be waiting for validation, or be about to be handed over.
    if (this.#idle.length > 0) this.#dispatch.schedule()
    else this.#fill()
  }

  // Waiters that no connection being opened, validated, idle or yet to be opened will serve: the ones
  // really waiting in line for a busy connection to come back (what maxWaitingRequests bounds).
  #inLine(): number {
    return this.#queue.length - this.#opener.creating - this.#dispatch.validatingForWaiters - this.#idle.length - this.#room()
  }

  /** `request` as a promise. */
  acquire(context: OperationContext | undefined = liveOperation()): Promise<PooledConnection<C>> {
    return new Promise((resolve, reject) => this.request((error, lease) => (error === undefined ? resolve(lease as PooledConnection<C>) : reject(error)), context))
  }

  /**
   * Gives a checked-out connection back. It is closed instead when `destroy` is set (an `Error` is also
   * reported), when it broke, passed its lifetime or use count, or the pool shrank or is closing.
   * A second release before the connection is checked out again, or one after `close()` took it back, does
   * nothing. (The same `PooledConnection` serves every checkout of its connection: an adapter must not let a
   * stale holder release it again, as `@lifeguard/postgres` does by the checkout's use count.)
   */
  release(lease: PooledConnection<C>, destroy?: boolean | Error): void {
    if (lease.state !== 'busy') return
    this.#active--
    // One clock reading serves the whole release: clock reads were the largest cost of a busy pool.
    const now = this.#clock.now()
    const checkout = lease.checkout
    lease.checkout = undefined
    lease.uses++
    // The caller's error is reported, unless the driver already reported this connection broken.
    if (destroy instanceof Error && lease.broken === undefined) this.#monitor.error(destroy, 'connection')
    const reason = releaseVerdict(lease, destroy, this.#options, this.#lifecycle.closing, now) ?? (this.totalCount + 1 > this.#maxSize ? 'resize' : undefined)
    if (reason !== undefined) {
      this.#surplus(lease, reason, now)
      if (checkout !== undefined) this.#monitor.released(checkout, now)
      this.#fill()
      this.#closer.checkDrained()
      return
    }
    this.#toIdle(lease, now)
    // Once the connection is in place: a `release` listener reads every count right, and one that checks out
    // at once (an async listener's first statement) takes this connection rather than opening one more.
    if (checkout !== undefined) this.#monitor.released(checkout, now)
    // Handed to a waiter after the current I/O callback: a connection whose socket fails in the same
    // read (a server restart sends the last result and the shutdown notice together) is seen as broken
    // first and never handed over.
    if (this.#queue.length > 0) this.#dispatch.schedule()
  }

  /**
   * Changes the size while running: growing serves waiters at once (reusing parked connections first);
   * shrinking closes idle connections above the new `maxSize` at once and busy ones as they are released,
   * or, with `keepSurplusMillis`, parks them for that long. Lowering `minSize` lets idle connections above
   * it time out again: the ones idle past `idleTimeoutMillis` close at once, the others when they are due. A resize without it closes the connections
   * parked before, except the ones the new size has room for, which become idle.
   *
   * @throws {InvalidOptionError} for a bad size
   * @throws {PoolClosedError} once the pool is closing
   */
  resize(size: PoolSize, options?: ResizeOptions): void {
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    const next = this.#lifecycle.resize(previous, size, options)
    if (next === undefined) return
    this.#minSize = next.minSize
    this.#maxSize = next.maxSize
    this.#monitor.resized(previous, next, options?.reason ?? 'manual', options?.details)
    const now = this.#clock.now()
    const keepMillis = options?.keepSurplusMillis ?? 0
    this.#keepSurplusUntil = keepMillis > 0 ? now + keepMillis : 0
    // The oldest idle connections go first: the warmest stay.
    while (this.totalCount > this.#maxSize && this.#idle.length > 0) this.#surplus(this.#idle.shift() as PooledConnection<C>, 'resize', now)
    if (next.minSize < previous.minSize) this.#idle.sweepNow()
    if (keepMillis === 0) {
      while (this.#parked.length > 0 && this.#room() > 0) this.#unpark()
      this.#parked.closeAll('resize')
    }
    this.#fill()
  }

  /**
   * Holds new checkouts (HikariCP's `suspendPool`): callers wait in the queue, bounded as always by
   * `acquireTimeoutMillis` and their operation's signal; connections already checked out stay in use, and
   * no connection is opened except by `warmup()`. For an operator switching servers: suspend, `softEvict()`,
   * switch, optionally `warmup()`, then `resume()` (in a `finally`: a failed switch or warm-up would
   * otherwise leave checkouts held until they time out). A second call does nothing.
   *
   * @throws {PoolClosedError} once the pool is closing
   */
  suspend(): void {
    this.#lifecycle.assertOpen('suspend')
    if (this.#suspended) return
    this.#suspended = true
    this.#suspendedAt = this.#clock.now()
    this.#monitor.suspended(this.#active, this.#queue.length)
  }

  /** Serves held checkouts again (oldest first) and lets the pool open connections. Does nothing unless suspended. */
  resume(): void {
    if (!this.#suspended) return
    this.#suspended = false
    this.#monitor.resumed(this.#clock.now() - this.#suspendedAt, this.#queue.length)
    if (!this.#lifecycle.closing) this.#dispatch.schedule()
  }

  /**
   * Retires connections without failing anyone (HikariCP's `softEvictConnections`): idle ones close at once,
   * checked-out ones (and ones being validated or opened) close when they come back; every one closes with
   * disconnect reason `evicted`. With a `filter`, only the open connections it accepts. New connections
   * are opened as usual. Does nothing once the pool is closing.
   *
   * @param filter - which open connections to evict (default: all, including the ones being opened)
   */
  softEvict(filter?: (connection: C) => boolean): SoftEvictReport {
    if (this.#lifecycle.closing) return { closed: 0, closingOnRelease: 0 }
    const report = this.#connections.softEvict(filter, this.#opener.creating)
    this.#fill()
    return report
  }

  /**
   * Opens `minSize` connections (at least 1) or the number asked, validates each, and keeps them idle
   * (idle ones already open count, after validation). `timeoutMillis` bounds the whole call: a connection's
   * connect and validation share it.
   *
   * @throws {PoolWarmupError} when none could open (cause: the first failure, redacted)
   * @throws {InvalidOptionError} for bad options
   * @throws {PoolClosedError} once the pool is closing
   */
  warmup(options?: WarmupOptions): Promise<WarmupReport> {
    return this.#warmer.warmup(options)
  }

  /**
   * Graceful: refuses new checkouts; callers already waiting for an idle connection or one that is being
   * opened get it, the other waiters get `PoolClosedError`; checked-out connections may finish for up to
   * `timeoutMillis` (then they are taken back and closed); then every connection closes. Idempotent.
   *
   * @throws {InvalidOptionError} (as a rejection) for a bad `timeoutMillis`
   */
  close(options?: { timeoutMillis?: number | undefined }): Promise<void> {
    return this.#lifecycle.close(options, (timeoutMillis) => this.#closer.close(timeoutMillis), (timeoutMillis) => this.#closer.shorten(timeoutMillis))
  }

  // Connections the pool may still open (or take back from the parked ones) within `maxSize`.
  #room(): number {
    return Math.max(0, this.#maxSize - this.totalCount - this.#connections.retiring)
  }

  // A connection above `maxSize` (or one that must close for a reason of its own): parked while a shrink
  // asked to keep surplus connections, else closed.
  #surplus(lease: PooledConnection<C>, reason: DisconnectReason, now: number): void {
    if (reason !== 'resize' || now >= this.#keepSurplusUntil) return this.#connections.retire(lease, reason)
    this.#parked.park(lease, this.#keepSurplusUntil, now)
    this.#factory.idle?.(lease.connection)
  }

  // Takes the warmest parked connection back into the pool, validated first when it sat unused long enough
  // to need it. It goes idle and waiters get it from the dispatch, never inside the caller's own call.
  #unpark(): void {
    const lease = this.#parked.take() as PooledConnection<C>
    const now = this.#clock.now()
    if (!usable(lease, this.#options, now)) return this.#connections.retire(lease, unusableReason(lease, this.#options))
    if (needsValidation(lease, this.#options, now)) {
      // It covers a waiter only if one is left uncovered: taken back for a warm-up, a grow or minSize, it serves
      // whoever is first when it passes.
      if (this.#queue.length > this.#dispatch.validatingForWaiters) this.#dispatch.validateForWaiter(lease)
      else this.#dispatch.validate(lease)
      return
    }
    this.#toIdle(lease, now)
    if (this.#queue.length > 0) this.#dispatch.schedule()
  }

  #checkOut(lease: PooledConnection<C>, waitMillis: number, context: OperationContext | undefined, origin: { stack?: string } | undefined, now: number): void {
    lease.state = 'busy'
    this.#active++
    this.#factory.taken?.(lease.connection)
    lease.checkout = this.#monitor.acquiredBy(waitMillis, context, origin ?? this.#monitor.captureOrigin(), now)
  }

  #grant(lease: PooledConnection<C>, waiter: Waiter<C>, now = this.#clock.now()): void {
    this.#checkOut(lease, now - waiter.askedAt, waiter.context, waiter.origin, now)
    waiter.grant(undefined, lease)
  }

  // The warmest idle connection that needs no validation, or undefined (broken ones are closed on the way).
  #takeIdle(now: number): PooledConnection<C> | undefined {
    for (;;) {
      const lease = this.#idle.peek()
      if (lease === undefined) return undefined
      if (needsValidation(lease, this.#options, now)) return undefined
      this.#idle.pop()
      if (usable(lease, this.#options, now)) return lease
      this.#connections.retire(lease, unusableReason(lease, this.#options))
    }
  }

  #toIdle(lease: PooledConnection<C>, now = this.#clock.now()): void {
    this.#idle.push(lease, now)
    this.#factory.idle?.(lease.connection)
  }

  // A connection that just opened or passed validation: to the oldest waiter, else idle.
  #offer(lease: PooledConnection<C>): void {
    if (lease.evicted) {
      // Evicted while it was being opened or validated: the waiter it was for gets a new one.
      this.#connections.retire(lease, 'evicted')
      this.#fill()
      return this.#closer.checkDrained()
    }
    // Opened for a size since lowered: not handed out, or the new maxSize would not hold until the
    // connections opening at the time of the shrink had all been released once.
    const surplus = !this.#lifecycle.closing && this.totalCount + 1 > this.#maxSize
    const waiter = this.#suspended || surplus ? undefined : this.#queue.shift()
    if (waiter !== undefined) return this.#grant(lease, waiter)
    if (this.#lifecycle.closing) this.#connections.retire(lease, 'closed')
    else if (surplus) this.#surplus(lease, 'resize', this.#clock.now())
    else this.#toIdle(lease)
    this.#closer.checkDrained()
  }

  // A validation for the oldest waiter has gone unanswered past its cover: one connection more for it, within
  // maxSize, unless an attempt under way covers it (not while closing: the close counts that validation as what
  // serves the waiter). A parked connection only if it needs no check: one more check would be one more second.
  #openForWaiter(): void {
    if (this.#lifecycle.closing || this.#lifecycle.state === 'closed') return
    if (this.#suspended || this.#room() === 0) return
    if (this.#queue.length <= this.#opener.creating + this.#dispatch.validatingForWaiters) return
    const parked = this.#parked.peek()
    if (parked !== undefined && !needsValidation(parked, this.#options, this.#clock.now())) this.#unpark()
    else if (!this.#opener.backingOff) this.#opener.open(this.#options.connectTimeoutMillis, this.#offerBound, this.#createFailedBound)
  }

  // Opens connections for waiters not already covered, and up to minSize once the pool is in use (unless
  // `waitersOnly`).
  #fill(waitersOnly = false): void {
    if (this.#lifecycle.state === 'closed' || this.#suspended) return
    const closing = this.#lifecycle.closing
    if (closing && this.#closer.opensNothing) {
      // The close found attempts failing (the server is down): nothing is opened any more, and a waiter that no
      // attempt or check under way can serve (one whose check failed) is refused now rather than at the drain's end.
      this.#queue.failAllBut(this.#opener.creating + this.#opener.validating, () => new PoolClosedError(this.name))
      // That waiter may have been the last thing the drain waited for.
      this.#closer.checkDrained()
      return
    }
    while (this.totalCount + this.#connections.retiring < this.#maxSize) {
      const forWaiters = this.#queue.length > this.#opener.creating + this.#dispatch.validatingForWaiters + this.#idle.length
      const forMinimum = !waitersOnly && !closing && this.#started && this.totalCount < this.#minSize
      if (!forWaiters && !forMinimum) return
      // A connection kept open by a shrink costs the server nothing to reuse; a new one costs it a start,
      // and waits out the back-off after failed attempts.
      if (this.#parked.length > 0) this.#unpark()
      else if (this.#opener.backingOff) return
      else this.#opener.open(this.#options.connectTimeoutMillis, this.#offerBound, this.#createFailedBound)
    }
  }
}
