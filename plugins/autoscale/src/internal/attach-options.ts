import type { Clock } from '@lifeguard/core/adapter'

function isClock(value: unknown): boolean {
  const clock = value as Partial<Clock> | null
  return typeof clock?.now === 'function' && typeof clock.setTimeout === 'function' && typeof clock.clearTimeout === 'function'
}

/** Rules for the options shared by `attachAutoscaler()`, `autoscale()` and `withDynamicSizing()`. */
export const attachOptionRules = {
  clock: { type: 'custom', expected: "a Clock from '@lifeguard/core/adapter' (now, setTimeout, clearTimeout)", check: isClock, optional: true },
  onError: { type: 'function', optional: true },
  timers: { type: 'boolean', optional: true },
} as const
