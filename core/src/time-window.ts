import type { DurationTotals, TimeSummary } from './pool-contract.js'

/**
 * Durations over a sliding window of the most recent samples, in a fixed ring buffer: recording is
 * O(1) with no allocation; percentiles are computed only when someone reads them.
 */
export class TimeWindow {
  readonly #samples: Float64Array
  #next = 0
  #filled = 0
  #count = 0
  #sum = 0

  /** @param capacity - samples kept for the percentiles (default 1024) */
  constructor(capacity = 1024) {
    this.#samples = new Float64Array(capacity)
  }

  /** Records one duration in milliseconds. */
  record(millis: number): void {
    this.#samples[this.#next] = millis
    this.#next = this.#next + 1 === this.#samples.length ? 0 : this.#next + 1
    if (this.#filled < this.#samples.length) this.#filled++
    this.#count++
    this.#sum += millis
  }

  /** Samples recorded since creation. */
  get count(): number {
    return this.#count
  }

  /** Sum of every sample recorded since creation (ms). */
  get sum(): number {
    return this.#sum
  }

  /** Lifetime count and sum, without touching the window. */
  totals(): DurationTotals {
    return { count: this.#count, sum: this.#sum }
  }

  /** Mean of the samples in the window (0 when empty). */
  get mean(): number {
    if (this.#filled === 0) return 0
    let total = 0
    for (let i = 0; i < this.#filled; i++) total += this.#samples[i] as number
    return total / this.#filled
  }

  /** count/sum over the lifetime; mean, percentiles and max over the window. */
  summary(): TimeSummary {
    const n = this.#filled
    if (n === 0) return { count: this.#count, sum: this.#sum, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 }
    const sorted = this.#samples.slice(0, n).sort()
    let total = 0
    for (let i = 0; i < n; i++) total += sorted[i] as number
    const at = (q: number): number => sorted[Math.min(n - 1, Math.ceil(q * n) - 1)] as number
    return { count: this.#count, sum: this.#sum, mean: total / n, p50: at(0.5), p95: at(0.95), p99: at(0.99), max: sorted[n - 1] as number }
  }
}
