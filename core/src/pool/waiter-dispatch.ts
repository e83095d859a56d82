// Hands idle connections to waiting callers, validating the ones that sat idle too long.
import type { Clock } from '../clock.js'
import { needsValidation, unusableReason, usable } from './connection-health.js'
import type { ConnectionOpener } from './connection-opener.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { IdleList } from './idle-list.js'
import type { OpenConnections } from './open-connections.js'
import type { PooledConnection } from './pooled-connection.js'
import type { Waiter, WaitQueue } from './wait-queue.js'

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
  // Validations started to serve a waiter (an idle or parked connection on its way to the oldest one): the
  // waiters they cover. Others (warm-up's, a resize's) serve whoever is first when they pass, and promise nothing:
  // counted as covering a waiter, they left it waiting beside an idle connection when they failed.
  #validatingForWaiters = 0
  readonly #run = (): void => this.#dispatch()
  readonly #validated = (lease: PooledConnection<C>): void => {
    this.#validatingForWaiters--
    this.#host.offer(lease)
  }
  // After a failed validation the waiter it was for needs the next idle connection, or a new one.
  readonly #failed = (): void => {
    this.#validatingForWaiters--
    this.schedule()
  }

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
    while (queue.length > this.#validatingForWaiters && idle.length > 0) {
      const lease = idle.pop() as PooledConnection<C>
      if (!usable(lease, this.#options, now)) connections.retire(lease, unusableReason(lease, this.#options))
      else if (needsValidation(lease, this.#options, now)) this.validateForWaiter(lease)
      else this.#host.grant(lease, queue.shift() as Waiter<C>, now)
    }
  }

  /** Validates `lease` for the oldest waiter not yet covered. */
  validateForWaiter(lease: PooledConnection<C>): void {
    this.#validatingForWaiters++
    this.#parts.opener.validate(lease, this.#options.connectTimeoutMillis, this.#validated, this.#failed)
  }

  #dispatch(): void {
    this.#scheduled = false
    this.serveIdle()
    this.#host.fill()
  }
}
