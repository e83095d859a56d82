import type { Clock, ClockTimer } from '@lifeguard/core/adapter'

interface Pending {
  at: number
  order: number
  callback: () => void
  cancelled: boolean
}

/**
 * Core's `Clock`, moved only by hand and synchronously: `advance(ms)` runs every timer due by then, in
 * time order, so policies (which read `now()`) and autoscalers (which also set timers) are driven step by
 * step without waiting.
 */
export class ManualClock implements Clock {
  #now: number
  #order = 0
  #pending: Pending[] = []

  constructor(start = 1000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  setTimeout(callback: () => void, millis: number): ClockTimer {
    const timer: Pending = { at: this.#now + Math.max(0, millis), order: this.#order++, callback, cancelled: false }
    this.#pending.push(timer)
    return timer as unknown as ClockTimer
  }

  clearTimeout(timer: ClockTimer): void {
    ;(timer as unknown as Pending).cancelled = true
  }

  /** Timers set and neither fired nor cleared. */
  get pendingTimers(): number {
    return this.#pending.filter((timer) => !timer.cancelled).length
  }

  advance(millis: number): void {
    const until = this.#now + millis
    for (;;) {
      this.#pending = this.#pending.filter((timer) => !timer.cancelled)
      const due = this.#pending.filter((timer) => timer.at <= until).sort((a, b) => a.at - b.at || a.order - b.order)[0]
      if (due === undefined) break
      this.#now = Math.max(this.#now, due.at)
      due.cancelled = true
      due.callback()
    }
    this.#now = until
  }
}
