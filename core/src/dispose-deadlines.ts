import type { Clock, ClockTimer } from './clock.js'
import { outsideOperations } from './context-storage.js'

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
    else if (this.#pending.size === 1) hold(this.#timer, true)
    return () => {
      this.#pending.delete(deadline)
      // Nothing left to wait for: the timer, left to fire, must not keep the process alive.
      if (this.#pending.size === 0 && this.#timer !== undefined) hold(this.#timer, false)
    }
  }

  // Held while a deadline is pending: a disposer waiting on something that holds nothing itself (a promise
  // nobody will settle) would otherwise let the process end under the caller's `await`, no error reported.
  // Armed outside the operation whose disposal came first: a Node timer keeps the AsyncLocalStorage store it
  // was set in, and this one, shared and left to fire, would keep that operation (its scope, its container)
  // alive for as long as disposals go on.
  #arm(millis: number): void {
    this.#timer = outsideOperations(() => this.#clock.setTimeout(() => this.#fire(), millis))
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

// Node's timers can be held or let go without being set again; a manual clock's timers hold nothing.
function hold(timer: ClockTimer, held: boolean): void {
  const node = timer as { ref?: () => void; unref?: () => void }
  if (held) node.ref?.()
  else node.unref?.()
}
