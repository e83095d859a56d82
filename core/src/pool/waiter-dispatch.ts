// Hands idle connections to waiting callers, validating the ones that sat idle too long.
import type { Clock } from '../clock.js'
import { needsValidation, unusableReason, usable } from './connection-health.js'
import type { ConnectionOpener } from './connection-opener.js'
import { validationTimeoutMillis, type PoolEngineOptions } from './engine-options.js'
import type { IdleList } from './idle-list.js'
import type { OpenConnections } from './open-connections.js'
import type { PooledConnection } from './pooled-connection.js'
import type { Waiter, WaitQueue } from './wait-queue.js'

/**
 * How long a validation started for a waiter keeps a new connection from being opened for it. A live
 * connection answers `SELECT 1` within milliseconds; one that has not answered in a second is more likely dead
 * than slow, and a new connection beside it costs the server little (it closes when idle).
 */
export const validationCoverMillis = 1000

/** The parts of its pool a dispatch works on. */
export interface DispatchParts<C> {
  readonly queue: WaitQueue<C>
  readonly idle: IdleList<C>
  readonly opener: ConnectionOpener<C>
  readonly connections: OpenConnections<C>
}

/** What a dispatch asks of its pool. */
export interface DispatchHost<C> {
  /** True while checkouts are held: nothing is handed out. */
  readonly suspended: boolean
  /** Checks `lease` out to `waiter`. */
  grant(lease: PooledConnection<C>, waiter: Waiter<C>, now: number): void
  /** A connection that passed validation: to the oldest waiter, else idle. */
  offer(lease: PooledConnection<C>): void
  /** Opens the connections the waiters still need. */
  fill(): void
  /** Opens one connection for the oldest waiter within `maxSize`, whatever covers it (see `validateForWaiter`). */
  openForWaiter(): void
}

/**
 * The hand-over of idle connections to the waiters of a `PoolEngine`. It runs on a microtask after a release
 * (`schedule()`): a connection whose socket fails in the same read (a server restart sends the last result and
 * the shutdown notice together) is seen as broken first and never handed over.
 */
export class WaiterDispatch<C> {
  readonly #options: PoolEngineOptions<C>
  readonly #clock: Clock
  readonly #parts: DispatchParts<C>
  readonly #host: DispatchHost<C>
  #scheduled = false
  // Validations started to serve a waiter (an idle or parked connection on its way to the oldest one), for their
  // first `validationCoverMillis`: the waiters they cover, for whom no connection is opened. Others (warm-up's, a
  // resize's, a refill's) serve whoever is first when they pass, and promise nothing: counted as covering a
  // waiter, they left it waiting beside an idle connection when they failed.
  #validatingForWaiters = 0
  readonly #run = (): void => this.#dispatch()
  readonly #passed = (lease: PooledConnection<C>): void => this.#host.offer(lease)
  // After a failed validation the waiter it was for needs the next idle connection, or a new one.
  readonly #failed = (): void => this.schedule()

  constructor(options: PoolEngineOptions<C>, parts: DispatchParts<C>, host: DispatchHost<C>) {
    this.#options = options
    this.#clock = options.monitor.clock
    this.#parts = parts
    this.#host = host
  }

  /** Waiters a validation under way will serve. */
  get validatingForWaiters(): number {
    return this.#validatingForWaiters
  }

  /** Dispatches on the next microtask (once, however often it is asked before then). */
  schedule(): void {
    if (this.#scheduled) return
    this.#scheduled = true
    queueMicrotask(this.#run)
  }

  /**
   * Hands idle connections to the waiters now, oldest first (closing broken ones, validating stale ones);
   * nothing while checkouts are held.
   */
  serveIdle(): void {
    if (this.#host.suspended) return
    const { queue, idle, connections } = this.#parts
    const now = this.#clock.now()
    while (queue.length > 0 && idle.length > 0) {
      const lease = idle.peek() as PooledConnection<C>
      // The warmest first: once it needs validation, so do the rest. A connection that needs none goes to the
      // oldest waiter even when a validation covers it (that one then serves the next, or goes idle).
      const sound = usable(lease, this.#options, now)
      const validating = sound && needsValidation(lease, this.#options, now)
      if (validating && queue.length <= this.#validatingForWaiters) return
      idle.pop()
      if (!sound) connections.retire(lease, unusableReason(lease, this.#options))
      else if (validating) this.validateForWaiter(lease)
      else this.#host.grant(lease, queue.shift() as Waiter<C>, now)
    }
  }

  /**
   * Validates `lease` for the oldest waiter not yet covered. It covers that waiter (no connection is opened for
   * it) for `validationCoverMillis` at most: a connection whose path went silent (a NAT or a firewall dropped it
   * while idle, sending nothing) answers no validation until its timeout (`connectTimeoutMillis`, which is as
   * long as the waiter's own by default, or 10 s when it is 0: see `validationTimeoutMillis`). Past the cover, a new connection is opened for the waiter beside it
   * (other idle connections may have gone the same way: validating them one after another would keep it waiting).
   */
  validateForWaiter(lease: PooledConnection<C>): void {
    this.#validatingForWaiters++
    let covering = true
    const uncover = (): void => {
      if (!covering) return
      covering = false
      this.#validatingForWaiters--
      this.#clock.clearTimeout(cover)
    }
    const cover = this.#clock.setTimeout(() => {
      uncover()
      this.#host.openForWaiter()
      this.schedule()
    }, validationCoverMillis, true)
    const passed = (valid: PooledConnection<C>): void => {
      uncover()
      this.#passed(valid)
    }
    const failed = (): void => {
      uncover()
      this.#failed()
    }
    this.#parts.opener.validate(lease, validationTimeoutMillis(this.#options), passed, failed)
  }

  /** Validates `lease` for no one in particular (a connection taken back from the parked ones with no waiter to cover). */
  validate(lease: PooledConnection<C>): void {
    this.#parts.opener.validate(lease, validationTimeoutMillis(this.#options), this.#passed, this.#failed)
  }

  #dispatch(): void {
    this.#scheduled = false
    this.serveIdle()
    this.#host.fill()
  }
}
