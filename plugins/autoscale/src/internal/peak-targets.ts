/** The targets of the last `spanMillis`: a pool shrinks to their peak, so a load that swings is sized for its peaks. */
export class PeakTargets {
  readonly #spanMillis: number
  #targets: { at: number; target: number }[] = []

  constructor(spanMillis: number) {
    this.#spanMillis = spanMillis
  }

  remember(now: number, target: number): void {
    // An entry is stamped with the end of its window: one stamped at the horizon saw nothing newer than it.
    const horizon = now - this.#spanMillis
    let drop = 0
    while (drop < this.#targets.length && (this.#targets[drop] as { at: number }).at <= horizon) drop++
    if (drop > 0) this.#targets.splice(0, drop)
    this.#targets.push({ at: now, target })
  }

  /** The highest target remembered, 0 when none. */
  get peak(): number {
    let peak = 0
    for (const entry of this.#targets) peak = Math.max(peak, entry.target)
    return peak
  }
}
