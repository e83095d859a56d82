import type { Clock, ClockTimer } from '../clock.js'
import { outsideOperations } from '../context-storage.js'
import type { OperationContext } from '../operation-context.js'
import { countWait, watchAbort } from '../operation-hooks.js'
import type { PooledConnection } from './pooled-connection.js'

/** How a waiter is answered: a connection, or the error it gets instead. */
export type Grant<C> = (error: Error | undefined, lease: PooledConnection<C> | undefined) => void

/** One caller waiting for a connection. */
export interface Waiter<C> {
  readonly grant: Grant<C>
  /** `clock.now()` when it asked. */
  readonly askedAt: number
  /** `clock.now()` after which it times out (Infinity: never). */
  readonly deadline: number
  /** The operation that asked: it leaves the queue when that aborts, and events about it run in it. */
  readonly context: OperationContext | undefined
  /** Where it asked, when leak detection is on. */
  readonly origin: { stack?: string } | undefined
  settled: boolean
}

/** What the queue asks of its pool. */
export interface WaitQueueHooks<C> {
  readonly clock: Clock
  /** A waiter's deadline passed: the error to give it. */
  timedOut(waiter: Waiter<C>): Error
  /** A waiter's signal aborted: the error to give it. */
  aborted(waiter: Waiter<C>, reason: unknown): Error
}

/**
 * The callers waiting for a connection, first come first served. Every waiter of a pool has the same
 * timeout, so deadlines are in queue order and one timer (for the oldest) serves them all; an operation
 * tells the queue when it aborts (one registration per operation, no AbortSignal), and the queue then
 * looks its waiters up. Both matter under contention, where a timer and an abort listener per wait were
 * the most expensive part of waiting.
 */
export class WaitQueue<C> {
  readonly #hooks: WaitQueueHooks<C>
  #waiters: (Waiter<C> | undefined)[] = []
  #head = 0
  #length = 0
  #timer: ClockTimer | undefined
  // Control waiters (see `pushFront`), served before the others, each with a timer of its own: few and rare,
  // and their deadlines are not in line with the others'.
  #first: { waiter: Waiter<C>; timer: ClockTimer | undefined }[] = []
  // Aborts are rare: a scan of the queue for the operation's waiters is cheaper than tracking them.
  readonly #aborted = (context: OperationContext, reason: unknown): void => {
    for (const { waiter } of [...this.#first]) if (!waiter.settled && waiter.context === context) this.fail(waiter, this.#hooks.aborted(waiter, reason))
    for (let i = this.#head; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i]
      if (waiter !== undefined && !waiter.settled && waiter.context === context) this.fail(waiter, this.#hooks.aborted(waiter, reason))
    }
    this.#forgetAnsweredHead()
  }

  constructor(hooks: WaitQueueHooks<C>) {
    this.#hooks = hooks
  }

  /** Waiters not yet answered. */
  get length(): number {
    return this.#length
  }

  /** Adds a waiter at the back. */
  push(waiter: Waiter<C>): void {
    this.#waiters.push(waiter)
    this.#length++
    if (waiter.deadline !== Infinity && this.#timer === undefined) this.#arm(waiter.deadline)
    this.#watch(waiter)
  }

  // Counted, then watched, once the waiter is in line: an operation's first watch may abort it at once (a
  // deadline that passed since the caller checked), and the abort must find the waiter to refuse it.
  #watch(waiter: Waiter<C>): void {
    if (waiter.context === undefined) return
    countWait(waiter.context, 1)
    watchAbort(waiter.context, this.#aborted)
  }

  /**
   * Adds a waiter served before every other: a pool's own control queries (a budget's count), which must
   * not wait behind the requests they are about to relieve. It keeps its own deadline.
   */
  pushFront(waiter: Waiter<C>): void {
    const clock = this.#hooks.clock
    const timer = waiter.deadline === Infinity ? undefined : clock.setTimeout(() => this.fail(waiter, this.#hooks.timedOut(waiter)), Math.max(0, waiter.deadline - clock.now()))
    this.#first.push({ waiter, timer })
    this.#length++
    this.#watch(waiter)
  }

  /** Takes the oldest waiter out (it is settled: answer it through its `grant`). */
  shift(): Waiter<C> | undefined {
    while (this.#first.length > 0) {
      const { waiter } = this.#first[0] as { waiter: Waiter<C> }
      if (waiter.settled) {
        this.#first.shift()
        continue
      }
      this.#settle(waiter)
      return waiter
    }
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head] as Waiter<C>
      this.#waiters[this.#head++] = undefined
      if (waiter.settled) continue
      this.#settle(waiter)
      this.#compact()
      return waiter
    }
    this.#compact()
    return undefined
  }

  /** Answers a waiter with an error and takes it out. */
  fail(waiter: Waiter<C>, error: Error): void {
    if (waiter.settled) return
    this.#settle(waiter)
    waiter.grant(error, undefined)
  }

  /** Answers every waiter after the first `keep` with the error made for it. */
  failAllBut(keep: number, error: (waiter: Waiter<C>) => Error): void {
    let kept = 0
    for (const { waiter } of [...this.#first]) {
      if (waiter.settled) continue
      if (kept < keep) kept++
      else this.fail(waiter, error(waiter))
    }
    for (let i = this.#head; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i]
      if (waiter === undefined || waiter.settled) continue
      if (kept < keep) kept++
      else this.fail(waiter, error(waiter))
    }
  }

  #settle(waiter: Waiter<C>): void {
    waiter.settled = true
    this.#length--
    if (this.#first.length > 0) this.#forgetFirst(waiter)
    if (waiter.context !== undefined) countWait(waiter.context, -1)
    if (this.#length === 0) {
      // Nobody is left waiting: drop the answered ones now. Waiters that timed out or aborted would
      // otherwise stay referenced (with their operations) until a later waiter is served.
      this.#waiters.length = 0
      this.#head = 0
      if (this.#timer !== undefined) {
        this.#hooks.clock.clearTimeout(this.#timer)
        this.#timer = undefined
      }
    }
  }

  #forgetFirst(waiter: Waiter<C>): void {
    const index = this.#first.findIndex((entry) => entry.waiter === waiter)
    if (index === -1) return
    const { timer } = this.#first[index] as { timer: ClockTimer | undefined }
    if (timer !== undefined) this.#hooks.clock.clearTimeout(timer)
    this.#first.splice(index, 1)
  }

  // Answered waiters stay in the array until the head passes them; drop that prefix now and then.
  #compact(): void {
    if (this.#head === this.#waiters.length) {
      this.#waiters.length = 0
      this.#head = 0
    } else if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head)
      this.#head = 0
    }
  }

  // Outside the waiter's operation: the timer serves every waiter, and a Node timer keeps the store it was
  // set in (the first waiter's operation) alive until it fires.
  #arm(deadline: number): void {
    const clock = this.#hooks.clock
    // One timer for the queue: a `timeout` listener that queried the pool while `#expire` ran armed one already.
    if (this.#timer !== undefined) clock.clearTimeout(this.#timer)
    this.#timer = outsideOperations(() => clock.setTimeout(() => this.#expire(), Math.max(0, deadline - clock.now())))
  }

  #expire(): void {
    this.#timer = undefined
    const now = this.#hooks.clock.now()
    for (let i = this.#head; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i]
      if (waiter === undefined || waiter.settled) continue
      if (waiter.deadline > now) {
        this.#arm(waiter.deadline)
        break
      }
      this.fail(waiter, this.#hooks.timedOut(waiter))
    }
    this.#forgetAnsweredHead()
  }

  // Waiters that timed out or aborted at the front are dropped here, so a queue whose connections stay
  // taken (an outage, a leaked checkout) does not keep them, nor scan them again at every timeout.
  #forgetAnsweredHead(): void {
    while (this.#head < this.#waiters.length && (this.#waiters[this.#head] === undefined || this.#waiters[this.#head]?.settled === true)) {
      this.#waiters[this.#head++] = undefined
    }
    this.#compact()
  }
}
