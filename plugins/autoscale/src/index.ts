/**
 * `@lifeguard/autoscale`: pools that size themselves from measured load. Reads only what
 * `@lifeguard/core` exposes (metrics snapshots, events) and calls `resize`; never touches a driver.
 *
 * - `autoscale(registry, { pools })` sizes the named pools of a registry.
 * - `client.setDynamicPoolConfig(config)`, the seed's per-pool form: on every pool of a class after
 *   `install()` from `@lifeguard/autoscale/postgres` or `/mongodb` (or `installDynamicSizing(PoolClass)`),
 *   or on one pool with `withDynamicSizing(pool)`.
 * - `ThresholdPolicy` (the seed's `DynamicPoolConfig`) and `AdaptivePolicy` (Little's law with a knee
 *   finder) are pure and can be driven by hand; `createSharedBudget` keeps a fleet within its budget.
 *
 * @packageDocumentation
 */

export { autoscale } from './autoscale.js'
export type { AutoscaleOptions, Autoscaler, AutoscaledRegistry } from './autoscale.js'

export { attachAutoscaler } from './pool-autoscaler.js'
export type { AttachOptions, PoolAutoscaler } from './pool-autoscaler.js'

export { withDynamicSizing, installDynamicSizing } from './dynamic-sizing.js'
export type { DynamicSizing, PoolClass } from './dynamic-sizing.js'

export { createPolicy, isScalingPolicy } from './create-policy.js'
export type { AutoscalePoolConfig } from './create-policy.js'

export { ThresholdPolicy } from './threshold-policy.js'
export type { PolicyOptions } from './threshold-policy.js'
export { validateDynamicPoolConfig } from './threshold-config.js'
export type { DynamicPoolConfig } from './threshold-config.js'

export { AdaptivePolicy } from './adaptive-policy.js'
export { resolveAdaptiveConfig } from './adaptive-config.js'
export type { AdaptivePoolConfig, ResolvedAdaptiveConfig } from './adaptive-config.js'

export { SharedBudget, createSharedBudget, budgetLimit, BUDGET_QUERY } from './shared-budget.js'
export type { SharedBudgetOptions, BudgetQuery, QueryableClient, BudgetReading, BudgetLimitInput, OwnConnections } from './shared-budget.js'

export type { ScalingPolicy, ScalingDecision, ScalingReason, PoolSample, EvaluationInput } from './scaling-policy.js'
