import { clockRule } from '@lifeguard/core/adapter'

/** Rules for the options shared by `attachAutoscaler()`, `autoscale()` and `withDynamicSizing()`. */
export const attachOptionRules = {
  clock: clockRule,
  onError: { type: 'function', optional: true },
  timers: { type: 'boolean', optional: true },
} as const
