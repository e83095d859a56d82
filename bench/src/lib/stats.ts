// Summary statistics over benchmark samples. Percentiles use the nearest-rank method, so they are
// always one of the observed values.

function checked(samples: readonly number[]): readonly number[] {
  if (samples.length === 0) throw new RangeError('Expected at least one sample, got none')
  return samples
}

function sorted(samples: readonly number[]): number[] {
  return [...checked(samples)].sort((a, b) => a - b)
}

/**
 * The arithmetic mean.
 *
 * @throws {RangeError} when `samples` is empty
 * @example
 * mean([1, 2, 6]) // 3
 */
export function mean(samples: readonly number[]): number {
  return checked(samples).reduce((sum, value) => sum + value, 0) / samples.length
}

/**
 * The median: the middle value, or the mean of the two middle values.
 *
 * @throws {RangeError} when `samples` is empty
 * @example
 * median([5, 1, 3, 100]) // 4
 */
export function median(samples: readonly number[]): number {
  const values = sorted(samples)
  const middle = values.length >> 1
  const upper = values[middle] as number
  return values.length % 2 === 1 ? upper : ((values[middle - 1] as number) + upper) / 2
}

/**
 * The `p`th percentile by nearest rank (`p` in 0..100).
 *
 * @throws {RangeError} when `samples` is empty or `p` is outside 0..100
 * @example
 * percentile([1, 2, 3, 4], 50) // 2
 */
export function percentile(samples: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`Expected \`p\` to be within 0..100, got \`${p}\``)
  return percentileOfSorted(sorted(samples), p)
}

/**
 * The `p`th percentile of samples already sorted ascending, without copying them.
 *
 * @throws {RangeError} when `sortedSamples` is empty
 */
export function percentileOfSorted(sortedSamples: readonly number[], p: number): number {
  checked(sortedSamples)
  const rank = Math.max(1, Math.ceil((p / 100) * sortedSamples.length))
  return sortedSamples[Math.min(rank, sortedSamples.length) - 1] as number
}

/**
 * The 99th percentile by nearest rank.
 *
 * @throws {RangeError} when `samples` is empty
 * @example
 * p99(latenciesMillis)
 */
export function p99(samples: readonly number[]): number {
  return percentile(samples, 99)
}

/** The usual figures for one case's samples. */
export interface Summary {
  count: number
  mean: number
  median: number
  p99: number
  min: number
  max: number
}

/**
 * Count, mean, median, p99, min and max in one pass over a sorted copy.
 *
 * @throws {RangeError} when `samples` is empty
 * @example
 * const { median, p99 } = summarize(samples)
 */
export function summarize(samples: readonly number[]): Summary {
  const values = sorted(samples)
  return {
    count: values.length,
    mean: mean(values),
    median: median(values),
    p99: percentileOfSorted(values, 99),
    min: values[0] as number,
    max: values[values.length - 1] as number,
  }
}
