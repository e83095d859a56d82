import { checkOption, rejectOption, type OptionRule, MAX_POOL_SIZE } from '@lifeguard/core/adapter'
import { AdaptivePolicy } from './adaptive-policy.js'
import type { AdaptivePoolConfig } from './adaptive-config.js'
import type { ScalingPolicy } from './scaling-policy.js'
import type { DynamicPoolConfig } from './threshold-config.js'
import { ThresholdPolicy, type PolicyOptions } from './threshold-policy.js'

/** A pool's autoscaling config: the threshold policy (the seed's `DynamicPoolConfig`) or the adaptive one. */
export type AutoscalePoolConfig = DynamicPoolConfig | AdaptivePoolConfig

/**
 * Builds the policy a config describes: `policy: 'adaptive'` gives an `AdaptivePolicy`; no `policy`
 * (or `'threshold'`) a `ThresholdPolicy`.
 *
 * @param where - who takes the config, for error messages
 * @throws {InvalidOptionError} naming the bad field
 * @example
 * const policy = createPolicy({ policy: 'adaptive', minSize: 2, maxSize: 50 })
 */
export function createPolicy(config: AutoscalePoolConfig, options: PolicyOptions = {}, where?: string): ScalingPolicy {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    rejectOption(where ?? 'createPolicy', 'config', 'a DynamicPoolConfig or an AdaptivePoolConfig', config)
  }
  const policy = (config as { policy?: unknown }).policy
  if (policy === 'adaptive') return new AdaptivePolicy(config as AdaptivePoolConfig, options, where)
  if (policy === undefined || policy === 'threshold') return new ThresholdPolicy(config as DynamicPoolConfig, options, where)
  return rejectOption(where ?? 'createPolicy', 'policy', 'one of `threshold`, `adaptive`', policy)
}

/**
 * True for an object that implements `ScalingPolicy` (a custom policy given in place of a config).
 *
 * @example
 * isScalingPolicy(new AdaptivePolicy({ policy: 'adaptive', minSize: 1, maxSize: 10 })) // true
 */
export function isScalingPolicy(value: unknown): value is ScalingPolicy {
  return typeof value === 'object' && value !== null && typeof (value as ScalingPolicy).observe === 'function' && typeof (value as ScalingPolicy).evaluate === 'function'
}

/**
 * @internal True for what is meant as a policy of your own (it has an `observe` or `evaluate` method), whole or not:
 * one missing a method is then refused naming it, not read as a config with unknown options.
 */
export function meantAsPolicy(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const { observe, evaluate } = value as { observe?: unknown; evaluate?: unknown }
  return typeof observe === 'function' || typeof evaluate === 'function'
}

const customPolicyRules: Record<string, OptionRule> = {
  observe: { type: 'function' },
  evaluate: { type: 'function' },
  kind: { type: 'string', nonEmpty: true },
  // The lowest `maxSize` it sets: a pool of none is no size (a budget's limit would bring it there).
  minSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  maxSize: { type: 'integer', min: 1, max: MAX_POOL_SIZE },
  evaluationIntervalMillis: { type: 'duration', min: 1 },
  sampleIntervalMillis: { type: 'duration', min: 1 },
  dueInMillis: { type: 'function', optional: true },
}

/**
 * Checks the fields the autoscaler reads from a policy of your own: without them its timer ran every
 * millisecond (an interval of `undefined` or `NaN`) and it never evaluated (a due time of `NaN`).
 *
 * @throws {InvalidOptionError} naming the field, e.g. `policy.sampleIntervalMillis`
 */
export function checkCustomPolicy(policy: ScalingPolicy, where: string): void {
  for (const [field, rule] of Object.entries(customPolicyRules)) checkOption(where, `policy.${field}`, (policy as unknown as Record<string, unknown>)[field], rule)
  if (policy.minSize > policy.maxSize) rejectOption(where, 'policy.minSize', `an integer <= policy.maxSize (${policy.maxSize})`, policy.minSize)
  // As the built-in configs: an evaluation between two samples would judge a window with nothing new in it.
  if (policy.sampleIntervalMillis > policy.evaluationIntervalMillis) {
    rejectOption(where, 'policy.sampleIntervalMillis', `an integer <= policy.evaluationIntervalMillis (${policy.evaluationIntervalMillis})`, policy.sampleIntervalMillis)
  }
}
