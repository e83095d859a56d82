/** A knee is confirmed when a later probe finds it within this share of the last one. */
const sameKnee = 0.25

/**
 * The size found as the database's knee and how long it caps growth. The first hold is short, so a load
 * that changed is found again soon; each probe that finds the same knee doubles it, up to the longest.
 */
export class KneeHold {
  readonly #firstMillis: number
  readonly #longestMillis: number
  #size: number | undefined
  #until = -Infinity
  #holdMillis = 0

  constructor(firstMillis: number, longestMillis: number) {
    this.#firstMillis = firstMillis
    this.#longestMillis = longestMillis
  }

  /** The knee while it caps growth at `now`. */
  at(now: number): number | undefined {
    return now < this.#until ? this.#size : undefined
  }

  /** How long the current (or last) knee holds, in ms. */
  get holdMillis(): number {
    return this.#holdMillis
  }

  /** How much longer the knee caps growth at `now`, in ms (0 once it no longer does). */
  remainingMillis(now: number): number {
    return Math.max(0, this.#until - now)
  }

  /** Records a knee found at `now`; returns how long it holds. */
  set(size: number, now: number): number {
    const last = this.#size
    const confirmed = last !== undefined && Math.abs(size - last) <= sameKnee * last
    this.#holdMillis = confirmed ? Math.min(this.#longestMillis, Math.max(this.#firstMillis, this.#holdMillis * 2)) : this.#firstMillis
    this.#size = size
    this.#until = now + this.#holdMillis
    return this.#holdMillis
  }

  /**
   * The load got lighter: ends the hold now. The next probe is still judged as a probe above a knee (one was
   * held), but a knee it finds is a first finding, held for the first hold only: the one before was found
   * under another load, and finding the same size again confirms nothing (measured on 2 cores: a probe
   * from a CPU-bound knee of 63 into waiting queries met a dip, and the doubled hold kept 63 for 4 s).
   */
  loadLightened(now: number): void {
    this.#until = Math.min(this.#until, now)
    this.#size = undefined
  }

  /** Forgets the knee: more connections were found to pay, or the load changed. */
  clear(): void {
    this.#size = undefined
    this.#until = -Infinity
    this.#holdMillis = 0
  }
}
