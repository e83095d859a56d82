import type { Clock, ClockTimer } from '../clock.js'
import type { DisconnectReason } from '../pool-events.js'
import type { PooledConnection } from './pooled-connection.js'
import { outsideOperations } from '../context-storage.js'

/** What the idle list asks of its pool. */
export interface IdleListHost<C> {
  readonly clock: Clock
  /** An idle connection above `minSize` closes after this long; 0 keeps it. */
  readonly idleTimeoutMillis: number
  /** True while the pool has more connections than its `minSize` (only then do idle ones time out). */
  aboveMinimum(): boolean
  retire(lease: PooledConnection<C>, reason: DisconnectReason): void
  /** Housekeeping closed connections: reopen what the pool still needs. */
  swept(): void
}

/**
 * A pool's idle connections, the most recently released last (so the warmest is reused first and
 * surplus ones age out at the bottom), with the one housekeeping timer that closes those past their idle
 * timeout (keeping `minSize`) or their lifetime. The timer is armed for the earliest due connection and
 * stays armed while connections come and go, so a busy pool sets no timer per release.
 */
export class IdleList<C> {
  readonly #host: IdleListHost<C>
  readonly #leases: PooledConnection<C>[] = []
  #timer: ClockTimer | undefined
  #timerAt = Infinity

  constructor(host: IdleListHost<C>) {
    this.#host = host
  }

  get length(): number {
    return this.#leases.length
  }

  /** The warmest idle connection, left in place. */
  peek(): PooledConnection<C> | undefined {
    return this.#leases.at(-1)
  }

  /** Takes the warmest idle connection out. */
  pop(): PooledConnection<C> | undefined {
    return this.#leases.pop()
  }

  /** Takes the oldest idle connection out (the first to go when the pool shrinks). */
  shift(): PooledConnection<C> | undefined {
    return this.#leases.shift()
  }

  /** Takes a given connection out (it broke, or is evicted); false when it was not idle. */
  remove(lease: PooledConnection<C>): boolean {
    const index = this.#leases.indexOf(lease)
    if (index < 0) return false
    this.#leases.splice(index, 1)
    return true
  }

  /** A connection goes idle at `now`; arms the housekeeping timer if it is due before the timer. */
  push(lease: PooledConnection<C>, now: number): void {
    lease.state = 'idle'
    lease.idleSince = now
    this.#leases.push(lease)
    const idleTimeout = this.#host.idleTimeoutMillis
    const due = Math.min(lease.expiresAt, idleTimeout > 0 ? now + idleTimeout : Infinity)
    if (due < this.#timerAt) this.#arm(due)
  }

  /**
   * Runs the housekeeping now (the pool's `minSize` dropped): the connections above the new minimum that
   * already idled past their timeout close at once, and the timer is re-armed for the next one due. Without
   * it a pool that sat at its old minimum had no timer, and kept them until some later release.
   */
  sweepNow(): void {
    this.stop()
    this.#sweep()
  }

  /** Stops housekeeping (the pool is closing). */
  stop(): void {
    if (this.#timer !== undefined) this.#host.clock.clearTimeout(this.#timer)
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  #arm(due: number): void {
    const clock = this.#host.clock
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer)
    this.#timerAt = due
    // Outside the operation whose release armed it: a Node timer keeps the store it was set in, and this one
    // re-arms itself for as long as the pool runs.
    this.#timer = outsideOperations(() => clock.setTimeout(() => this.#sweep(), Math.max(0, due - clock.now()), true))
  }

  // Closes idle connections past their lifetime or idle timeout (oldest first, keeping minSize), then
  // re-arms for the next one due.
  #sweep(): void {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = this.#host.clock.now()
    const idleTimeout = this.#host.idleTimeoutMillis
    let next = Infinity
    for (let i = 0; i < this.#leases.length; ) {
      const lease = this.#leases[i] as PooledConnection<C>
      const idleDue = idleTimeout > 0 ? lease.idleSince + idleTimeout : Infinity
      if (now >= lease.expiresAt) {
        this.#leases.splice(i, 1)
        this.#host.retire(lease, 'lifetime')
      } else if (now >= idleDue && this.#host.aboveMinimum()) {
        this.#leases.splice(i, 1)
        this.#host.retire(lease, 'idle')
      } else {
        next = Math.min(next, lease.expiresAt, this.#host.aboveMinimum() ? idleDue : Infinity)
        i++
      }
    }
    if (next !== Infinity) this.#arm(next)
    this.#host.swept()
  }
}
