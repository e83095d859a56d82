import { rejectOption, validateOptions, MAX_POOL_SIZE } from '@lifeguard/core/adapter'
import { SharedBudget } from './shared-budget.js'

/**
 * The threshold policy's configuration: the seed's `DynamicPoolConfig`, field for field. `minSize` and
 * `maxSize` bound the pool's `maxSize`; utilization is the mean of (active + waiting) / maxSize, in
 * percent, capped at 100, over samples taken within each interval.
 */
export interface DynamicPoolConfig {
  /** Optional tag; a config without `policy` is a threshold config. */
  policy?: 'threshold' | undefined
  /** `false` leaves the pool alone (and stops an autoscaler already running). */
  enabled: boolean
  /** Lowest `maxSize` the policy sets. */
  minSize: number
  /** Highest `maxSize` the policy sets. */
  maxSize: number
  /** Utilization (%) at or above which the pool grows by `scaleUpIncrement`. */
  scaleUpThreshold: number
  /** Utilization (%) at or below which the pool shrinks by `scaleDownIncrement`. */
  scaleDownThreshold: number
  /** Connections added to `maxSize` per grow (capped at `maxSize` and the budget). */
  scaleUpIncrement: number
  /** Connections taken off `maxSize` per shrink (never below `minSize`). */
  scaleDownIncrement: number
  /** Milliseconds between evaluations (the seed's name, kept). */
  evaluationInterval: number
  /** Milliseconds between samples within an interval (default: a tenth of `evaluationInterval`, 25 to 1000, never longer than the interval). */
  sampleIntervalMillis?: number | undefined
  /** A connection budget shared by every instance of the service (see `createSharedBudget`). */
  budget?: SharedBudget | undefined
}

const rules = {
  policy: { type: 'oneOf', values: ['threshold'], optional: true },
  enabled: { type: 'boolean' },
  minSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  maxSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  scaleUpThreshold: { type: 'number', min: 0, max: 100 },
  scaleDownThreshold: { type: 'number', min: 0, max: 100 },
  scaleUpIncrement: { type: 'integer', min: 1 },
  scaleDownIncrement: { type: 'integer', min: 1 },
  evaluationInterval: { type: 'duration', min: 1 },
  sampleIntervalMillis: { type: 'duration', min: 1, optional: true },
  budget: { type: 'custom', expected: 'a SharedBudget (createSharedBudget)', check: (v: unknown) => v instanceof SharedBudget, optional: true },
} as const

/**
 * Checks a threshold config: every field present and in range, `minSize <= maxSize`,
 * `scaleDownThreshold < scaleUpThreshold`, no unknown keys.
 *
 * @param where - who takes the config, for the message (e.g. `setDynamicPoolConfig`)
 * @throws {InvalidOptionError} naming the field, its value and what it accepts
 * @example
 * validateDynamicPoolConfig({ enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80, scaleDownThreshold: 30,
 *   scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 })
 */
export function validateDynamicPoolConfig(config: DynamicPoolConfig, where = 'DynamicPoolConfig'): DynamicPoolConfig {
  validateOptions(where, config, rules)
  if (config.minSize > config.maxSize) rejectOption(where, 'minSize', `an integer <= \`maxSize\` (${config.maxSize})`, config.minSize)
  if (config.scaleDownThreshold >= config.scaleUpThreshold) {
    rejectOption(where, 'scaleDownThreshold', `a number < \`scaleUpThreshold\` (${config.scaleUpThreshold})`, config.scaleDownThreshold)
  }
  if (config.sampleIntervalMillis !== undefined && config.sampleIntervalMillis > config.evaluationInterval) {
    rejectOption(where, 'sampleIntervalMillis', `an integer <= \`evaluationInterval\` (${config.evaluationInterval})`, config.sampleIntervalMillis)
  }
  return config
}
