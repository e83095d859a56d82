// A bounded latency sample: exact count, mean and max; percentiles from a uniform reservoir.
import { percentileOfSorted } from './stats.js'

/** Latency figures in milliseconds; all 0 when nothing was recorded. */
export interface LatencySummary {
  count: number
  p50Millis: number
  p99Millis: number
  meanMillis: number
  maxMillis: number
}

/**
 * Records latencies with bounded memory. Beyond `maxSamples`, reservoir sampling keeps a uniform
 * sample of everything recorded, so percentiles stay unbiased over long runs.
 *
 * @example
 * const latencies = new LatencySample(100_000)
 * latencies.record(elapsedMillis)
 * const { p99Millis } = latencies.summary()
 */
export class LatencySample {
  readonly #maxSamples: number
  readonly #samples: number[] = []
  #count = 0
  #sum = 0
  #max = 0

  constructor(maxSamples = 100_000) {
    if (!Number.isInteger(maxSamples) || maxSamples < 1) {
      throw new RangeError(`Expected \`maxSamples\` to be an integer >= 1, got \`${maxSamples}\``)
    }
    this.#maxSamples = maxSamples
  }

  /** Adds one latency in milliseconds. */
  record(millis: number): void {
    this.#count += 1
    this.#sum += millis
    if (millis > this.#max) this.#max = millis
    if (this.#samples.length < this.#maxSamples) {
      this.#samples.push(millis)
      return
    }
    const slot = Math.floor(Math.random() * this.#count)
    if (slot < this.#maxSamples) this.#samples[slot] = millis
  }

  /** How many of the latencies kept are above `millis` (exact while no more than `maxSamples` were recorded). */
  countAbove(millis: number): number {
    let count = 0
    for (const sample of this.#samples) if (sample > millis) count++
    return count
  }

  /** Count, p50, p99, mean and max of what was recorded. */
  summary(): LatencySummary {
    if (this.#count === 0) return { count: 0, p50Millis: 0, p99Millis: 0, meanMillis: 0, maxMillis: 0 }
    const sorted = [...this.#samples].sort((a, b) => a - b)
    return {
      count: this.#count,
      p50Millis: percentileOfSorted(sorted, 50),
      p99Millis: percentileOfSorted(sorted, 99),
      meanMillis: this.#sum / this.#count,
      maxMillis: this.#max,
    }
  }
}
