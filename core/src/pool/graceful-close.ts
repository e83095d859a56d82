// The close of a pool engine: refuse, let checkouts finish, take back what is left, wait for sockets.
import type { Clock } from '../clock.js'
import { PoolClosedError } from '../errors.js'
import type { PoolMonitor } from '../pool-monitor.js'
import type { ConnectionOpener } from './connection-opener.js'
import { DrainWait } from './drain-wait.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { IdleList } from './idle-list.js'
import type { OpenConnections } from './open-connections.js'
import type { ParkedList } from './parked-list.js'
import type { PooledConnection } from './pooled-connection.js'
import type { WaitQueue } from './wait-queue.js'

// How long close() waits for the sockets of closed connections to finish closing.
const socketsCloseMillis = 2000

/** The counts of its pool a close reads (the `PoolEngine` itself). */
export interface ClosingPool {
  /** True while checkouts are held: a suspended pool serves none of its waiters. */
  readonly suspended: boolean
  readonly activeCount: number
  readonly totalCount: number
  readonly maxSize: number
}

/** The parts of its pool a close works on. */
export interface CloseParts<C> {
  readonly idle: IdleList<C>
  /** Connections a shrink kept open: closed first. */
  readonly parked: ParkedList<C>
  readonly queue: WaitQueue<C>
  readonly opener: ConnectionOpener<C>
  readonly connections: OpenConnections<C>
  /** A checked-out connection was taken back: it no longer counts as active. */
  revoked(): void
  /** Hands idle connections to the waiters (validating the ones that need it), unless checkouts are held. */
  serveIdle(): void
  /** Opens connections for the waiters that are still served. */
  fill(): void
}

/**
 * The graceful close of a `PoolEngine` (run once, by its `PoolLifecycle`): hands idle connections to the
 * waiters they were about to serve and closes the rest, fails the waiters no connection will serve, waits up to the timeout for checkouts, connection attempts and
 * the remaining waiters to settle (the drain: the pool reports each step through `checkDrained()`,
 * `waiterLeft()` and `attemptFailed()`), then takes back what is left, and waits a little for the
 * sockets to close.
 */
export class GracefulClose<C> {
  readonly #name: string
  readonly #clock: Clock
  readonly #monitor: PoolMonitor
  readonly #pool: ClosingPool
  readonly #parts: CloseParts<C>
  readonly #drain: DrainWait
  #opensNothing = false

  constructor(options: PoolEngineOptions<C>, pool: ClosingPool, parts: CloseParts<C>) {
    this.#name = options.name
    this.#clock = options.monitor.clock
    this.#monitor = options.monitor
    this.#pool = pool
    this.#parts = parts
    this.#drain = new DrainWait(this.#clock)
  }

  /** Closes the pool, waiting up to `timeoutMillis` for checked-out connections to come back. */
  async close(timeoutMillis: number): Promise<void> {
    const { idle, parked, queue, opener, connections } = this.#parts
    parked.closeAll('closed')
    idle.stop()
    // Attempts failing (the server is down): nobody waiting gets a new connection, and none is tried.
    const failing = opener.backingOff
    this.#opensNothing = failing
    opener.stop()
    // Waiters an idle connection was about to serve (handed over on the next microtask) get it: closed here,
    // it would leave them room for a new one, opened only to be closed when they release it.
    this.#parts.serveIdle()
    while (idle.length > 0) connections.retire(idle.pop() as PooledConnection<C>, 'closed')
    // Callers who asked before close() and would get a new connection still get one (one asked for in the
    // same tick is opened on the next microtask); the ones that would wait for a busy connection to come back
    // are refused, and so are all but those already served while attempts fail: a new attempt against a
    // server that is down would hold the close for its connect timeout, to fail them later all the same.
    // Room still held by connections closing is no room. A suspended pool serves none of them.
    const pool = this.#pool
    const room = failing ? 0 : Math.max(0, pool.maxSize - pool.totalCount - connections.retiring)
    const servable = pool.suspended ? 0 : opener.creating + opener.validating + room
    queue.failAllBut(servable, () => new PoolClosedError(this.#name))
    this.#parts.fill()
    if (!this.#isDrained()) {
      if (!(await this.#drain.wait(timeoutMillis))) this.#revoke()
    }
    // Attempts abandoned above settle once their driver gives up: close() resolves with the counts final.
    if (opener.creating > 0) await this.#within(socketsCloseMillis, (done) => opener.whenSettled(done))
    if (connections.retiring > 0) await this.#within(socketsCloseMillis, (done) => connections.whenAllRetired(done))
  }

  /** True once a close began while connection attempts were failing, or saw one fail: it opens no connection any more. */
  get opensNothing(): boolean {
    return this.#opensNothing
  }

  /** A later `close()` asked for a shorter timeout: the drain under way gives up by then, not later. */
  shorten(timeoutMillis: number): void {
    this.#drain.shorten(timeoutMillis)
  }

  /** Something the drain waits for has settled: ends the wait once nothing is left. */
  checkDrained(): void {
    if (this.#drain.waiting && this.#isDrained()) this.#drain.drained()
  }

  /** A connection attempt failed while closing. */
  attemptFailed(error: Error): void {
    const { queue, opener } = this.#parts
    // The server refuses connections: from now on nothing is opened, as in a close that began during a back-off
    // (a waiter whose check fails next is refused, not given a new attempt that would hold the close).
    this.#opensNothing = true
    // A waiter kept through close() was counting on this attempt: it gets the failure, unless another attempt or
    // a check under way still covers it (close() kept one waiter for each).
    if (queue.length > opener.creating + opener.validating) queue.shift()?.grant(error, undefined)
    this.checkDrained()
  }

  /**
   * A waiter gave up (its error passes through): while closing, that may have been the last thing
   * close() waited for.
   */
  waiterLeft(error: Error): Error {
    if (this.#drain.waiting) queueMicrotask(() => this.checkDrained())
    return error
  }

  // Close timed out: abandon connection attempts and validations, fail the waiters left, take busy connections back.
  #revoke(): void {
    const { queue, opener, connections } = this.#parts
    opener.abandon(new PoolClosedError(this.#name))
    queue.failAllBut(0, () => new PoolClosedError(this.#name))
    for (const lease of connections) {
      if (lease.state === 'validating') {
        opener.abandonValidation(lease, new PoolClosedError(this.#name))
        continue
      }
      if (lease.state !== 'busy') continue
      lease.revoked = true
      this.#parts.revoked()
      if (lease.checkout !== undefined) this.#monitor.released(lease.checkout)
      lease.checkout = undefined
      connections.retire(lease, 'closed')
    }
  }

  #isDrained(): boolean {
    const { queue, opener } = this.#parts
    return this.#pool.activeCount === 0 && opener.creating === 0 && opener.validating === 0 && queue.length === 0
  }

  #within(timeoutMillis: number, register: (done: () => void) => void): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer = this.#clock.setTimeout(() => resolve(false), timeoutMillis)
      register(() => {
        this.#clock.clearTimeout(timer)
        resolve(true)
      })
    })
  }
}
