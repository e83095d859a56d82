import type { Clock, ClockTimer } from './clock.js'

interface Deadline {
  readonly at: number
  readonly expired: () => void
}

/**
 * The deadlines of a container's disposers still running, behind one timer. Every request that used a
 * database handle has a disposer that returns a promise: a timer of its own, set and cleared on every
 * request, cost more than the disposal it guarded. All deadlines are the same length from a clock that
 * never goes back, so they expire in the order they were set: the timer waits for the oldest, and is left
 * to fire when it has nothing left to do rather than cleared and set again.
 */
export class DisposeDeadlines {
  readonly #clock: Clock
  readonly #millis: number
  readonly #pending = new Set<Deadline>()
  #timer: ClockTimer | undefined

  constructor(clock: Clock, millis: number) {
    this.#clock = clock
    this.#millis = millis
  }

  /** Calls `expired` `millis` from now unless the returned function is called first. */
  watch(expired: () => void): () => void {
    const deadline: Deadline = { at: this.#clock.now() + this.#millis, expired }
    this.#pending.add(deadline)
    if (this.#timer === undefined) this.#arm(this.#millis)
    return () => void this.#pending.delete(deadline)
  }

  #arm(millis: number): void {
    // A background timer: a disposer that hangs does not keep the process alive on its own.
    this.#timer = this.#clock.setTimeout(() => this.#fire(), millis, true)
  }

  #fire(): void {
    this.#timer = undefined
    const now = this.#clock.now()
    for (const deadline of this.#pending) {
      if (deadline.at > now) return this.#arm(deadline.at - now)
      this.#pending.delete(deadline)
      deadline.expired()
    }
  }
}
