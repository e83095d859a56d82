import type { Clock } from '../../src/index.js'

/** A clock that moves only when told to. */
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
}
