import type { Clock, ClockTimer } from '../clock.js'
import type { OperationContext } from '../operation-context.js'
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
  readonly signal: AbortSignal | undefined
  /** The operation that asked: events about this wait run in it. */
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
 * timeout, so deadlines are in queue order and one timer (for the oldest) serves them all; a signal
 * gets one abort listener however many of its operation's calls wait. Both matter under contention,
 * where a timer and a listener per wait were the most expensive part of waiting.
 */
export class WaitQueue<C> {
  readonly #hooks: WaitQueueHooks<C>
  #waiters: (Waiter<C> | undefined)[] = []
  #head = 0
  #length = 0
  #timer: ClockTimer | undefined
  readonly #bySignal = new WeakMap<AbortSignal, Set<Waiter<C>>>()

  constructor(hooks: WaitQueueHooks<C>) {
    this.#hooks = hooks
  }

  /** Waiters not yet answered. */
  get length(): number {
    return this.#length
  }

  /** Adds a waiter at the back. */
  push(waiter: Waiter<C>): void {
    if (waiter.signal !== undefined) this.#watch(waiter.signal, waiter)
    this.#waiters.push(waiter)
    this.#length++
    if (waiter.deadline !== Infinity && this.#timer === undefined) this.#arm(waiter.deadline)
  }

  /** Takes the oldest waiter out (it is settled: answer it through its `grant`). */
  shift(): Waiter<C> | undefined {
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
    if (waiter.signal !== undefined) this.#bySignal.get(waiter.signal)?.delete(waiter)
    if (this.#length === 0 && this.#timer !== undefined) {
      this.#hooks.clock.clearTimeout(this.#timer)
      this.#timer = undefined
    }
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

  #arm(deadline: number): void {
    this.#timer = this.#hooks.clock.setTimeout(() => this.#expire(), Math.max(0, deadline - this.#hooks.clock.now()))
  }

  #expire(): void {
    this.#timer = undefined
    const now = this.#hooks.clock.now()
    for (let i = this.#head; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i]
      if (waiter === undefined || waiter.settled) continue
      if (waiter.deadline > now) {
        this.#arm(waiter.deadline)
        return
      }
      this.fail(waiter, this.#hooks.timedOut(waiter))
    }
  }

  #watch(signal: AbortSignal, waiter: Waiter<C>): void {
    let waiters = this.#bySignal.get(signal)
    if (waiters === undefined) {
      const set = new Set<Waiter<C>>()
      waiters = set
      this.#bySignal.set(signal, set)
      signal.addEventListener(
        'abort',
        () => {
          for (const each of set) this.fail(each, this.#hooks.aborted(each, signal.reason))
        },
        { once: true },
      )
    }
    waiters.add(waiter)
  }
}
