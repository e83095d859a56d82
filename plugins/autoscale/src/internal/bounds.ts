import type { ScalingDecision } from '../scaling-policy.js'

/** The highest size allowed now: `maxSize`, lowered by the budget, never below `minSize`. */
export function upperBound(minSize: number, maxSize: number, budgetLimit: number | undefined): number {
  const limit = budgetLimit === undefined ? maxSize : Math.min(maxSize, Math.floor(budgetLimit))
  return Math.max(minSize, limit)
}

/**
 * A decision that brings `size` back within `[minSize, upper]`, or `undefined` when it is already there.
 * Bounds come before any policy: a pool outside them is moved first.
 */
export function enforceBounds(size: number, minSize: number, maxSize: number, budgetLimit: number | undefined): ScalingDecision | undefined {
  const upper = upperBound(minSize, maxSize, budgetLimit)
  if (size > upper) {
    const byBudget = upper < maxSize
    return {
      size: upper,
      reason: byBudget ? 'autoscale:budget' : 'autoscale:bounds',
      details: byBudget ? { budgetLimit: upper, maxSize } : { minSize, maxSize },
    }
  }
  if (size < minSize) return { size: minSize, reason: 'autoscale:bounds', details: { minSize, maxSize } }
  return undefined
}

/** Rounds every detail to 3 decimals so events and logs stay readable. */
export function rounded(details: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [key, value] of Object.entries(details)) out[key] = Number.isFinite(value) ? Math.round(value * 1000) / 1000 : value
  return out
}
