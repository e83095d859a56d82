import type { Clock } from '../clock.js'

/** Rules for the options shared by `attachAutoscaler()`, `autoscale()` and `withDynamicSizing()`. */
export const attachOptionRules = {
  clock: { type: 'custom', expected: 'a clock with now()', check: (v: unknown) => typeof (v as Clock | null)?.now === 'function', optional: true },
  onError: { type: 'function', optional: true },
  timers: { type: 'boolean', optional: true },
} as const
