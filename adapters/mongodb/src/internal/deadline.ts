import type { Clock } from '@lifeguard/core'

/**
 * A point in time on the pool's clock that work may be raced against, and that a later call may bring
 * forward (`shorten`), as a second `close()` with a shorter timeout does.
 */
export class Deadline {
  readonly #clock: Clock
  #at: number
  #rearm: (() => void) | undefined

  constructor(clock: Clock, timeoutMillis: number) {
    this.#clock = clock
    this.#at = clock.now() + timeoutMillis
  }

  /** Brings the deadline forward to `timeoutMillis` from now, never back. */
  shorten(timeoutMillis: number): void {
    const at = this.#clock.now() + timeoutMillis
    if (at >= this.#at) return
    this.#at = at
    this.#rearm?.()
  }

  /** Moves the deadline to `timeoutMillis` from now, if that is later. */
  extend(timeoutMillis: number): void {
    this.#at = Math.max(this.#at, this.#clock.now() + timeoutMillis)
    this.#rearm?.()
  }

  /**
   * Resolves `true` once `work` settles (either way), `false` at the deadline; the work goes on either way.
   * Its timer is cleared as soon as the race ends, so nothing is left to keep the process alive.
   */
  race(work: Promise<unknown>): Promise<boolean> {
    const clock = this.#clock
    return new Promise<boolean>((resolve) => {
      let timer = clock.setTimeout(() => end(false), Math.max(0, this.#at - clock.now()))
      let ended = false
      const end = (settled: boolean): void => {
        if (ended) return
        ended = true
        clock.clearTimeout(timer)
        this.#rearm = undefined
        resolve(settled)
      }
      this.#rearm = () => {
        clock.clearTimeout(timer)
        timer = clock.setTimeout(() => end(false), Math.max(0, this.#at - clock.now()))
      }
      work.then(
        () => end(true),
        () => end(true),
      )
    })
  }
}

/** True when `work` settles within `timeoutMillis` on `clock`, false once that has passed (the work goes on). */
export function settlesWithin(work: Promise<unknown>, timeoutMillis: number, clock: Clock): Promise<boolean> {
  return new Deadline(clock, timeoutMillis).race(work)
}
