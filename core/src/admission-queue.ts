import { systemClock, type Clock, type ClockTimer } from './clock.js'
import { OperationAbortedError, PoolClosedError, PoolExhaustedError, PoolTimeoutError } from './errors.js'
import { outsideOperations } from './context-storage.js'

/** Options of an `AdmissionQueue`. */
export interface AdmissionQueueOptions {
  /** Pool name, for error messages. */
  pool: string
  /** How many holders at once (the pool's `maxSize`). */
  limit: number
  /** Waiters beyond this are rejected at once with `PoolExhaustedError` (default: unbounded). */
  maxWaiting?: number | undefined
  /** How long a waiter may wait before `PoolTimeoutError` (default: forever). */
  timeoutMillis?: number | undefined
  /** The last connect error, attached as the timeout's cause. */
  lastError?: (() => unknown) | undefined
  /** Where waits read time and set their timeout (a manual clock in tests). Default: the process clock. */
  clock?: Clock | undefined
}

interface Waiter {
  resolve: () => void
  reject: (error: Error) => void
  /** The clock's time after which it times out (Infinity: never). */
  deadline: number
  signal: AbortSignal | undefined
  settled: boolean
}

/**
 * Bounded admission in front of a driver's pool: at most `limit` holders, a bounded FIFO of waiters with
 * a timeout, and waiters that leave when their operation's signal aborts. The driver still owns the
 * connections; this owns who may ask for one, which is what makes live resizing, typed exhaustion
 * errors and abortable waits work the same for every driver.
 */
export class AdmissionQueue {
  readonly #options: AdmissionQueueOptions
  readonly #clock: Clock
  #limit: number
  #active = 0
  #waiters: Waiter[] = []
  #head = 0
  #waiting = 0
  #closed = false
  #timer: ClockTimer | undefined
  readonly #bySignal = new WeakMap<AbortSignal, Set<Waiter>>()

  constructor(options: AdmissionQueueOptions) {
    this.#options = options
    this.#clock = options.clock ?? systemClock
    this.#limit = options.limit
  }

  /** Slots held now (above `limit` after a shrink, until enough holders release). */
  get active(): number {
    return this.#active
  }
  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiting
  }
  /** Most holders at once (see `setLimit()`). */
  get limit(): number {
    return this.#limit
  }

  /** Takes a slot without waiting if one is free and nobody is queued; true on success. */
  tryAcquire(): boolean {
    if (this.#closed) throw new PoolClosedError(this.#options.pool)
    if (this.#active < this.#limit && this.#waiting === 0) {
      this.#active++
      return true
    }
    return false
  }

  /**
   * Waits for a slot.
   *
   * @throws {PoolExhaustedError} at once when `maxWaiting` requests already wait
   * @throws {PoolTimeoutError} after `timeoutMillis`
   * @throws {OperationAbortedError} when `signal` aborts first
   * @throws {PoolClosedError} when the queue closes
   */
  acquire(signal?: AbortSignal): Promise<void> {
    // A closed queue rejects like every other failure, rather than throwing before a promise exists.
    if (this.#closed) return Promise.reject(new PoolClosedError(this.#options.pool))
    // An operation whose client already left gets no connection, even when one is free.
    if (signal?.aborted) return Promise.reject(new OperationAbortedError(`acquire a connection from pool '${this.#options.pool}'`, { cause: signal.reason }))
    if (this.tryAcquire()) return Promise.resolve()
    const maxWaiting = this.#options.maxWaiting
    if (maxWaiting !== undefined && this.#waiting >= maxWaiting) return Promise.reject(new PoolExhaustedError(this.#options.pool, maxWaiting))
    return new Promise<void>((resolve, reject) => {
      const timeoutMillis = this.#options.timeoutMillis
      const deadline = timeoutMillis !== undefined && Number.isFinite(timeoutMillis) ? this.#clock.now() + timeoutMillis : Infinity
      const waiter: Waiter = { resolve, reject, deadline, signal, settled: false }
      if (signal !== undefined) this.#watchSignal(signal, waiter)
      this.#waiters.push(waiter)
      this.#waiting++
      if (deadline !== Infinity && this.#timer === undefined) this.#armTimer(deadline)
    })
  }

  /** Gives a slot back; the oldest waiter gets it if the limit allows. */
  release(): void {
    if (this.#active === 0) return // a double release must not open an extra slot
    this.#active--
    this.#drain()
  }

  /** Changes the limit; growing admits waiters at once, shrinking takes effect as holders release. */
  setLimit(limit: number): void {
    this.#limit = limit
    this.#drain()
  }

  /** Rejects every waiter with `PoolClosedError`; later acquires fail at once. */
  close(): void {
    this.#closed = true
    while (this.#head < this.#waiters.length) {
      const waiter = this.#waiters[this.#head++] as Waiter
      if (!waiter.settled) this.#settle(waiter, new PoolClosedError(this.#options.pool))
    }
    this.#waiters = []
    this.#head = 0
  }

  #drain(): void {
    while (this.#active < this.#limit && this.#waiting > 0) {
      const waiter = this.#waiters[this.#head] as Waiter
      this.#waiters[this.#head] = undefined as unknown as Waiter
      this.#head++
      if (waiter.settled) continue
      this.#active++
      this.#settle(waiter, undefined)
    }
    // Compact now and then so the array does not grow forever under steady load.
    if (this.#head > 1024 && this.#head * 2 > this.#waiters.length) {
      this.#waiters = this.#waiters.slice(this.#head)
      this.#head = 0
    } else if (this.#head === this.#waiters.length) {
      this.#waiters.length = 0
      this.#head = 0
    }
  }

  // All waiters share one timeout and are served in order, so their deadlines are in queue order: one
  // timer for the oldest is enough (a timer per waiter costs measurably under heavy contention).
  // Outside the waiter's operation: a Node timer keeps the store it was set in alive until it fires. Not a
  // background timer: a caller waits on it, as on any timer of its own.
  #armTimer(deadline: number): void {
    const clock = this.#clock
    this.#timer = outsideOperations(() => clock.setTimeout(() => this.#expire(), Math.max(0, deadline - clock.now())))
  }

  #expire(): void {
    this.#timer = undefined
    const now = this.#clock.now()
    const timeoutMillis = this.#options.timeoutMillis as number
    for (let i = this.#head; i < this.#waiters.length; i++) {
      const waiter = this.#waiters[i] as Waiter
      if (waiter.settled) continue
      if (waiter.deadline > now) {
        this.#armTimer(waiter.deadline)
        break
      }
      const others = this.#waiting - 1
      this.#leave(waiter, new PoolTimeoutError(this.#options.pool, timeoutMillis, { cause: this.#options.lastError?.(), waiting: others }))
    }
    this.#forgetAnsweredHead()
  }

  // Waiters that timed out or aborted at the front of the queue are dropped here, so a queue whose slots
  // stay taken (a long outage, a leaked checkout) does not keep them, nor scan them at every timeout.
  #forgetAnsweredHead(): void {
    while (this.#head < this.#waiters.length && (this.#waiters[this.#head] as Waiter).settled) {
      this.#waiters[this.#head++] = undefined as unknown as Waiter
    }
    if (this.#head === this.#waiters.length) {
      this.#waiters.length = 0
      this.#head = 0
    }
  }

  // One abort listener per signal, however many times its operation waits: adding and removing
  // EventTarget listeners per wait is the most expensive part of waiting.
  #watchSignal(signal: AbortSignal, waiter: Waiter): void {
    let waiters = this.#bySignal.get(signal)
    if (waiters === undefined) {
      const set = new Set<Waiter>()
      waiters = set
      this.#bySignal.set(signal, set)
      signal.addEventListener(
        'abort',
        () => {
          for (const each of set) this.#leave(each, new OperationAbortedError(`acquire a connection from pool '${this.#options.pool}'`, { cause: signal.reason, queued: true }))
          this.#forgetAnsweredHead()
        },
        { once: true },
      )
    }
    waiters.add(waiter)
  }

  #leave(waiter: Waiter, error: Error): void {
    if (waiter.settled) return
    // Left in the array and skipped by #drain; the count drops now so metrics stay true.
    this.#settle(waiter, error)
  }

  #settle(waiter: Waiter, error: Error | undefined): void {
    waiter.settled = true
    this.#waiting--
    if (waiter.signal !== undefined) this.#bySignal.get(waiter.signal)?.delete(waiter)
    if (this.#waiting === 0) {
      // Nobody is left waiting: drop the answered ones now. Waiters that timed out or aborted would
      // otherwise stay referenced (with their signals) until a later waiter is served.
      this.#waiters.length = 0
      this.#head = 0
      if (this.#timer !== undefined) {
        this.#clock.clearTimeout(this.#timer)
        this.#timer = undefined
      }
    }
    if (error === undefined) waiter.resolve()
    else waiter.reject(error)
  }
}
