// Closed-loop load: C workers each run one operation at a time, back to back, for a duration.
// Built for database queries (the function is typically `() => pool.query('SELECT 1')`), but
// knows nothing about PostgreSQL.
import { performance } from 'node:perf_hooks'
import { LatencySample } from './latency-sample.js'

/** Options for {@link runClosedLoop}. */
export interface ClosedLoopOptions {
  /** Operations in flight at any time. */
  concurrency: number
  /** Measured duration. */
  durationMillis: number
  /** Load run first and not counted (pool growth, JIT); default 1000, 0 for none. */
  warmupMillis?: number
  /** Latency samples kept (uniform reservoir sample beyond that); default 100000. */
  maxSamples?: number
  /** Count failed operations instead of throwing; default false. */
  allowErrors?: boolean
}

/** What one measured run produced. */
export interface ClosedLoopResult {
  /** Operations that succeeded within the measured window. */
  operations: number
  errors: number
  /** The first failure in the measured window, if any. */
  firstError: unknown
  throughputPerSec: number
  latencyP50Millis: number
  latencyP99Millis: number
  latencyMeanMillis: number
  latencyMaxMillis: number
  durationMillis: number
}

function positiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`Expected \`${name}\` to be an integer >= 1, got \`${value}\``)
  }
}

/**
 * Runs `operation` at a fixed concurrency: a warm-up, then a measured window. An operation counts
 * when it completes inside the window; its latency is taken from its own start. Latency
 * percentiles come from a uniform sample bounded by `maxSamples`.
 *
 * @throws {RangeError} on bad options
 * @throws {Error} when an operation fails and `allowErrors` is not set (the failure is the cause)
 * @example
 * const { throughputPerSec, latencyP99Millis } = await runClosedLoop(() => pool.query('SELECT 1'), {
 *   concurrency: 16,
 *   durationMillis: 5000,
 * })
 */
export async function runClosedLoop(
  operation: () => Promise<unknown>,
  options: ClosedLoopOptions,
): Promise<ClosedLoopResult> {
  const { concurrency, durationMillis, warmupMillis = 1000, maxSamples = 100_000 } = options
  positiveInteger('concurrency', concurrency)
  if (!(durationMillis > 0)) throw new RangeError(`Expected \`durationMillis\` to be > 0, got \`${durationMillis}\``)
  if (!(warmupMillis >= 0)) throw new RangeError(`Expected \`warmupMillis\` to be >= 0, got \`${warmupMillis}\``)

  const latencies = new LatencySample(maxSamples)
  let errors = 0
  let firstError: unknown
  const measureStart = performance.now() + warmupMillis
  const measureEnd = measureStart + durationMillis

  const worker = async () => {
    while (performance.now() < measureEnd) {
      const start = performance.now()
      let failure: unknown
      let failed = false
      try {
        await operation()
      } catch (error) {
        failure = error
        failed = true
      }
      const end = performance.now()
      if (end < measureStart || end > measureEnd) continue
      if (!failed) latencies.record(end - start)
      else {
        if (errors === 0) firstError = failure
        errors += 1
      }
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))

  const { count, p50Millis, p99Millis, meanMillis, maxMillis } = latencies.summary()
  if (errors > 0 && !options.allowErrors) {
    throw new Error(`Could not run the load cleanly. ${errors} of ${count + errors} operations failed.`, {
      cause: firstError,
    })
  }
  return {
    operations: count,
    errors,
    firstError,
    throughputPerSec: count / (durationMillis / 1000),
    latencyP50Millis: p50Millis,
    latencyP99Millis: p99Millis,
    latencyMeanMillis: meanMillis,
    latencyMaxMillis: maxMillis,
    durationMillis,
  }
}
