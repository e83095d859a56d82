import { isScalingPolicy, type AutoscalePoolConfig } from '../create-policy.js'
import type { ScalingPolicy } from '../scaling-policy.js'
import type { SharedBudget } from '../shared-budget.js'

/** The shared budget a config carries, if any. */
export function budgetOf(config: AutoscalePoolConfig | ScalingPolicy): SharedBudget | undefined {
  if (isScalingPolicy(config)) return (config as { config?: { budget?: SharedBudget } }).config?.budget
  return config.budget
}

/** Whether a config (or policy) is switched on. */
export function isEnabled(config: AutoscalePoolConfig | ScalingPolicy): boolean {
  if (isScalingPolicy(config)) return (config as { config?: { enabled?: boolean } }).config?.enabled !== false
  return config.enabled !== false
}
