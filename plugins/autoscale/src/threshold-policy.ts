import { systemClock, type Clock } from '@lifeguard/core/adapter'
import { enforceBounds, rounded, upperBound } from './internal/bounds.js'
import { SampleWindow } from './internal/sample-window.js'
import type { EvaluationInput, PoolSample, ScalingDecision, ScalingPolicy } from './scaling-policy.js'
import { defaultSampleInterval } from './internal/sampling.js'
import { validateDynamicPoolConfig, type DynamicPoolConfig } from './threshold-config.js'

/** Options of a policy: where its time comes from. */
export interface PolicyOptions {
  /** Default: core's `systemClock` (`performance.now()`). Policies only read `now()`; tests pass a clock they advance by hand. */
  clock?: Pick<Clock, 'now'> | undefined
}

/**
 * The seed's threshold policy, exactly as `DynamicPoolConfig` describes it: at each evaluation, the
 * mean utilization of the samples taken since the last one decides: at or above `scaleUpThreshold`
 * grow by `scaleUpIncrement`, at or below `scaleDownThreshold` shrink by `scaleDownIncrement`, never
 * outside `[minSize, maxSize]` (nor past a shared budget). An interval without samples changes nothing.
 *
 * @example
 * const policy = new ThresholdPolicy({ enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80,
 *   scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 })
 * policy.observe(pool.getPoolMetrics())
 * const decision = policy.evaluate({ size: pool.getPoolMetrics().maxSize })
 */
export class ThresholdPolicy implements ScalingPolicy {
  /** Always `'threshold'`. */
  readonly kind = 'threshold'
  /** The config it was built with, checked and frozen. */
  readonly config: Readonly<DynamicPoolConfig>
  /** Lowest `maxSize` it sets (`config.minSize`). */
  readonly minSize: number
  /** Highest `maxSize` it sets (`config.maxSize`). */
  readonly maxSize: number
  /** Time between evaluations (ms): `config.evaluationInterval`. */
  readonly evaluationIntervalMillis: number
  /** Time between samples (ms): `config.sampleIntervalMillis`, else a tenth of the evaluation interval (25 to 1000, at most the interval). */
  readonly sampleIntervalMillis: number
  readonly #clock: Pick<Clock, 'now'>
  readonly #window = new SampleWindow()

  /**
   * @param where - who takes the config, named in error messages
   * @throws {InvalidOptionError} naming the bad field
   */
  constructor(config: DynamicPoolConfig, options: PolicyOptions = {}, where = 'ThresholdPolicy') {
    this.config = Object.freeze({ ...validateDynamicPoolConfig(config, where) })
    this.minSize = config.minSize
    this.maxSize = config.maxSize
    this.evaluationIntervalMillis = config.evaluationInterval
    this.sampleIntervalMillis = config.sampleIntervalMillis ?? defaultSampleInterval(config.evaluationInterval)
    this.#clock = options.clock ?? systemClock
  }

  /** Records one sample of the pool's metrics in the current window. */
  observe(sample: PoolSample): void {
    this.#window.add(this.#clock.now(), sample)
  }

  /**
   * Closes the window and decides on its mean utilization (a size outside the bounds or the budget is moved
   * back first); `undefined` leaves the size alone, as does a disabled config.
   */
  evaluate(input: EvaluationInput): ScalingDecision | undefined {
    const window = this.#window.close()
    if (!this.config.enabled) return undefined
    const { size, budgetLimit } = input
    const outside = enforceBounds(size, this.minSize, this.maxSize, budgetLimit)
    if (outside !== undefined) return outside
    if (window === undefined) return undefined
    const utilization = window.meanUtilization
    const upper = upperBound(this.minSize, this.maxSize, budgetLimit)
    if (utilization >= this.config.scaleUpThreshold && size < upper) {
      const next = Math.min(upper, size + this.config.scaleUpIncrement)
      return {
        size: next,
        reason: 'autoscale:threshold-up',
        details: rounded({ utilization, threshold: this.config.scaleUpThreshold, samples: window.samples, ...(next === upper && upper < this.maxSize ? { budgetLimit: upper } : {}) }),
      }
    }
    if (utilization <= this.config.scaleDownThreshold && size > this.minSize) {
      const next = Math.max(this.minSize, size - this.config.scaleDownIncrement)
      return { size: next, reason: 'autoscale:threshold-down', details: rounded({ utilization, threshold: this.config.scaleDownThreshold, samples: window.samples }) }
    }
    return undefined
  }
}
