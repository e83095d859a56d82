import type { Clock, ClockTimer } from '@lifeguard/core/adapter'

/**
 * Time for policies, moved by hand and at once: `advance(ms)` is synchronous, so a policy and a model
 * pool can be stepped together in a plain loop. It sets no timers: tests of the autoscaler's own timers
 * use `ManualClock` from `@lifeguard/test-kit`.
 */
export class ManualClock implements Clock {
  #now: number

  constructor(start = 1000) {
    this.#now = start
  }

  now(): number {
    return this.#now
  }

  advance(millis: number): void {
    this.#now += millis
  }

  setTimeout(): ClockTimer {
    throw new Error('This clock drives policies only; pass timers: false, or use ManualClock from @lifeguard/test-kit.')
  }

  clearTimeout(): void {}
}
