// A pool's open connections and their closing: retired, broken, or evicted softly.
import type { SoftEvictReport } from '../pool-contract.js'
import type { DisconnectReason } from '../pool-events.js'
import type { PoolMonitor } from '../pool-monitor.js'
import type { ConnectionFactory } from './connection-factory.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { IdleList } from './idle-list.js'
import type { ParkedList } from './parked-list.js'
import type { PooledConnection } from './pooled-connection.js'

/**
 * Every open connection of a `PoolEngine` (idle, parked, validating, busy), so close() and `softEvict()` can reach
 * each, and their closing: a retired connection is destroyed through the factory and counted as retiring
 * until the driver has closed it; a broken or evicted one is closed at once when idle, else when it comes
 * back. Connections that started opening before the last full `softEvict()` are marked evicted as they join.
 */
export class OpenConnections<C> {
  readonly #all = new Set<PooledConnection<C>>()
  readonly #options: PoolEngineOptions<C>
  readonly #factory: ConnectionFactory<C>
  readonly #monitor: PoolMonitor
  readonly #idle: IdleList<C>
  readonly #parked: ParkedList<C>
  readonly #refill: () => void
  /** Connections being destroyed: they still hold a server connection, so they count against maxSize. */
  #retiring = 0
  /** Bumped by `softEvict()`: a connection that started opening in an older generation is evicted. */
  #generation = 0
  #allRetired: (() => void) | undefined

  /**
   * @param idle - the pool's idle list (`softEvict()` closes idle connections at once)
   * @param parked - connections kept above `maxSize` after a shrink (closed at once too)
   * @param refill - opens what the pool still needs (a connection closed or left the idle list)
   */
  constructor(options: PoolEngineOptions<C>, idle: IdleList<C>, parked: ParkedList<C>, refill: () => void) {
    this.#options = options
    this.#factory = options.factory
    this.#monitor = options.monitor
    this.#idle = idle
    this.#parked = parked
    this.#refill = refill
  }

  /** Connections being destroyed whose server connection may still be open. */
  get retiring(): number {
    return this.#retiring
  }
  /** The eviction generation a connection starting to open now belongs to. */
  get generation(): number {
    return this.#generation
  }

  /** Every open connection, the oldest first. */
  [Symbol.iterator](): IterableIterator<PooledConnection<C>> {
    return this.#all.values()
  }

  /** Checked-out connections that will stay (not evicted by `softEvict()`, not broken): warm, for a warm-up. */
  busyStaying(): number {
    let count = 0
    for (const lease of this.#all) if (lease.state === 'busy' && !lease.evicted && lease.broken === undefined) count++
    return count
  }

  /** Checked-out connections past their lifetime or use count at `now`: they close when released. */
  expired(now: number): number {
    let expired = 0
    for (const lease of this.#all) if (lease.state === 'busy' && (now >= lease.expiresAt || lease.uses + 1 >= this.#options.maxUses)) expired++
    return expired
  }

  /** A connection opened: it belongs to the pool from now on. */
  adopt(lease: PooledConnection<C>): void {
    this.#all.add(lease)
    if (lease.generation !== this.#generation) lease.evicted = true
  }

  /** Closes a connection that left the pool, and reports it once the driver has closed it. */
  retire(lease: PooledConnection<C>, reason: DisconnectReason): void {
    lease.state = 'closed'
    this.#all.delete(lease)
    this.#retiring++
    const done = () => {
      this.#retiring--
      this.#monitor.disconnected(lease.id, lease.retireReason ?? reason)
      if (this.#retiring === 0) this.#allRetired?.()
      this.#refill()
    }
    let closing: void | Promise<void>
    try {
      closing = this.#factory.destroy(lease.connection)
    } catch {
      closing = undefined
    }
    Promise.resolve(closing).then(done, done)
  }

  /** The driver reported a connection failed: an idle or parked one closes at once, any other when it comes back. */
  broken(lease: PooledConnection<C>, error: Error): void {
    if (lease.broken !== undefined) return
    lease.broken = error
    if (lease.state === 'idle' || lease.state === 'parked') {
      if (lease.state === 'idle') this.#idle.remove(lease)
      else this.#parked.remove(lease)
      this.#monitor.error(error, 'idle-connection')
      this.retire(lease, 'error')
      this.#refill()
    } else if (lease.state === 'busy' || lease.state === 'validating') {
      // Closed when it comes back; reported now, once.
      this.#monitor.error(error, 'connection')
    }
  }

  /** From now on `done` is called each time the last connection being retired has closed. */
  whenAllRetired(done: () => void): void {
    this.#allRetired = done
  }

  /**
   * The work of `PoolEngine.softEvict()` once the pool is known to be open: idle and parked connections
   * close at once, the others are marked to close when they come back (the caller then refills the pool).
   *
   * @param creating - connections being opened now (all of them are evicted when there is no `filter`)
   */
  softEvict(filter: ((connection: C) => boolean) | undefined, creating: number): SoftEvictReport {
    const report: SoftEvictReport = { closed: 0, closingOnRelease: 0 }
    if (filter === undefined) {
      this.#generation++
      report.closingOnRelease += creating
    }
    for (const lease of this.#all) {
      if (lease.evicted || (filter !== undefined && !filter(lease.connection))) continue
      if (lease.state === 'idle' || lease.state === 'parked') {
        if (lease.state === 'idle') this.#idle.remove(lease)
        else this.#parked.remove(lease)
        this.retire(lease, 'evicted')
        report.closed++
      } else {
        lease.evicted = true
        report.closingOnRelease++
      }
    }
    return report
  }
}
