import type { Clock, ClockTimer } from '../clock.js'
import type { DisconnectReason } from '../pool-events.js'
import type { PooledConnection } from './pooled-connection.js'
import { outsideOperations } from '../context-storage.js'

/** What the parked list asks of its pool. */
export interface ParkedListHost<C> {
  readonly clock: Clock
  retire(lease: PooledConnection<C>, reason: DisconnectReason): void
}

/**
 * Connections a shrink left above the pool's `maxSize` and kept open for a while (`keepSurplusMillis`),
 * so that a grow soon after reuses them instead of opening new ones: opening or closing a connection costs
 * the database server tens of milliseconds of CPU, which a pool that follows a changing load would pay on
 * every turn. They are not part of the pool's counts (nothing can check them out) until it takes one back;
 * each closes when its time is up (disconnect reason `resize`), or at its lifetime if that comes first
 * (`lifetime`). One timer, armed for the earliest.
 */
export class ParkedList<C> {
  readonly #host: ParkedListHost<C>
  /** The most recently parked last: the warmest is reused first. */
  readonly #leases: PooledConnection<C>[] = []
  #timer: ClockTimer | undefined
  #timerAt = Infinity

  constructor(host: ParkedListHost<C>) {
    this.#host = host
  }

  get length(): number {
    return this.#leases.length
  }

  /** Keeps a connection open, unused, until `until` (clock time). */
  park(lease: PooledConnection<C>, until: number, now: number): void {
    // An idle connection keeps the time it went idle, so that it is validated before reuse when due.
    if (lease.state !== 'idle') lease.idleSince = now
    lease.state = 'parked'
    lease.parkedUntil = until
    this.#leases.push(lease)
    const due = Math.min(until, lease.expiresAt)
    if (due < this.#timerAt) this.#arm(due)
  }

  /** The most recently parked connection (the next `take()`), or undefined. */
  peek(): PooledConnection<C> | undefined {
    return this.#leases.at(-1)
  }

  /** Takes the most recently parked connection back, or undefined. */
  take(): PooledConnection<C> | undefined {
    return this.#leases.pop()
  }

  /** Takes a given connection out (it broke, or is evicted); false when it was not parked. */
  remove(lease: PooledConnection<C>): boolean {
    const index = this.#leases.indexOf(lease)
    if (index < 0) return false
    this.#leases.splice(index, 1)
    return true
  }

  /** Closes every parked connection now. */
  closeAll(reason: DisconnectReason): void {
    this.#stopTimer()
    for (let lease = this.take(); lease !== undefined; lease = this.take()) this.#host.retire(lease, reason)
  }

  #arm(due: number): void {
    const clock = this.#host.clock
    this.#stopTimer()
    this.#timerAt = due
    // A background timer: parked connections never keep the process alive.
    // Outside the operation whose release armed it: a Node timer keeps the store it was set in, and this one
    // re-arms itself for as long as the pool runs.
    this.#timer = outsideOperations(() => clock.setTimeout(() => this.#sweep(), Math.max(0, due - clock.now()), true))
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  // Closes the connections whose time or lifetime is up, then re-arms for the next one.
  #sweep(): void {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = this.#host.clock.now()
    let next = Infinity
    for (let i = 0; i < this.#leases.length; ) {
      const lease = this.#leases[i] as PooledConnection<C>
      if (now >= lease.expiresAt || now >= lease.parkedUntil) {
        this.#leases.splice(i, 1)
        this.#host.retire(lease, now >= lease.expiresAt ? 'lifetime' : 'resize')
      } else {
        next = Math.min(next, lease.parkedUntil, lease.expiresAt)
        i++
      }
    }
    if (next !== Infinity) this.#arm(next)
  }
}
