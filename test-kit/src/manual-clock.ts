// The shape of core's `Clock` (structural, so this package needs no dependency on core).
type ClockTimer = object
interface Clock {
  now(): number
  setTimeout(callback: () => void, millis: number, background?: boolean): ClockTimer
  clearTimeout(timer: ClockTimer): void
}

interface Pending {
  readonly at: number
  readonly order: number
  readonly callback: () => void
  cancelled: boolean
  /** Set with `background`: would not keep a process alive. */
  readonly background: boolean
}

/**
 * A clock that moves only when told: `advance(ms)` runs every timer due by then, in time order, so
 * tests of timeouts, lifetimes and leaks take no wall-clock time.
 *
 * @example
 * const clock = new ManualClock()
 * const pool = new PoolEngine({ ..., clock })
 * await clock.advance(30_000) // idle connections time out now
 */
export class ManualClock implements Clock {
  #now: number
  #order = 0
  #pending: Pending[] = []

  constructor(start = 1_000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, millis: number, background?: boolean): ClockTimer {
    const timer: Pending = { at: this.#now + Math.max(0, millis), order: this.#order++, callback, cancelled: false, background: background === true }
    this.#pending.push(timer)
    return timer
  }

  clearTimeout(timer: ClockTimer): void {
    ;(timer as unknown as Pending).cancelled = true
  }

  /** Timers not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#pending.filter((timer) => !timer.cancelled).length
  }

  /** Pending timers that would keep a process alive (set without `background`), as Node's ref'd timers do. */
  get foregroundTimers(): number {
    return this.#pending.filter((timer) => !timer.cancelled && !timer.background).length
  }

  /**
   * Moves time forward by `millis`, firing due timers in order; lets promise callbacks run after each
   * (so work a timer starts can settle before the next one fires).
   */
  async advance(millis: number): Promise<void> {
    const until = this.#now + millis
    for (;;) {
      // Work already queued (a rejection, a released connection) happens before time moves on.
      await flushPromises()
      const next = this.#next(until)
      if (next === undefined) break
      this.#now = Math.max(this.#now, next.at)
      next.cancelled = true
      next.callback()
      await flushPromises()
    }
    this.#now = until
    await flushPromises()
  }

  #next(until: number): Pending | undefined {
    this.#pending = this.#pending.filter((timer) => !timer.cancelled)
    let best: Pending | undefined
    for (const timer of this.#pending) {
      if (timer.at > until) continue
      if (best === undefined || timer.at < best.at || (timer.at === best.at && timer.order < best.order)) best = timer
    }
    return best
  }
}

/** Lets every queued promise callback (and the ones they queue) run. */
export async function flushPromises(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve))
}
