import type { Clock } from '../clock.js'

/**
 * A close's wait for what it drains (checkouts, admitted operations): ends `true` when `drained()` is called,
 * `false` at its deadline, which a later `close()` with a shorter timeout brings forward (`shorten()`). One
 * wait at a time.
 */
export class DrainWait {
  readonly #clock: Clock
  #drained: (() => void) | undefined
  #shorten: ((timeoutMillis: number) => void) | undefined

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** True while a wait is under way. */
  get waiting(): boolean {
    return this.#drained !== undefined
  }

  /**
   * Waits up to `timeoutMillis` for `drained()`: true if it came.
   *
   * @throws {Error} while another wait is under way (a close runs once)
   */
  wait(timeoutMillis: number): Promise<boolean> {
    if (this.waiting) throw new Error('A drain wait is already under way.')
    const clock = this.#clock
    return new Promise<boolean>((resolve) => {
      let deadline = clock.now() + timeoutMillis
      const end = (drained: boolean): void => {
        this.#drained = undefined
        this.#shorten = undefined
        resolve(drained)
      }
      let timer = clock.setTimeout(() => end(false), timeoutMillis)
      this.#drained = () => {
        clock.clearTimeout(timer)
        end(true)
      }
      this.#shorten = (millis) => {
        if (clock.now() + millis >= deadline) return
        deadline = clock.now() + millis
        clock.clearTimeout(timer)
        timer = clock.setTimeout(() => end(false), millis)
      }
    })
  }

  /** What the wait under way waited for is done. */
  drained(): void {
    this.#drained?.()
  }

  /** A later `close()` asked for a shorter timeout: the wait under way ends by then, not later. */
  shorten(timeoutMillis: number): void {
    this.#shorten?.(timeoutMillis)
  }
}
