import type { OptionRule } from './options.js'

/** A timer started through a `Clock`; pass it back to `clock.clearTimeout()`. */
export type ClockTimer = { readonly __clockTimer?: never } | NodeJS.Timeout

/**
 * Where Lifeguard reads time and sets timers. Everything that waits (acquire deadlines, idle timeouts,
 * lifetimes, leak detection) goes through one, so tests drive time with a manual clock instead of
 * sleeping.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number
  /**
   * Calls `callback` once, `millis` from now. `background` timers (housekeeping) do not keep the process
   * alive; the others (a caller waiting for a retry) do.
   */
  setTimeout(callback: () => void, millis: number, background?: boolean): ClockTimer
  /** Cancels a timer that this clock's `setTimeout` returned. */
  clearTimeout(timer: ClockTimer): void
}

/** The process clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, millis, background) {
    const timer = setTimeout(callback, millis)
    if (background === true) timer.unref()
    return timer
  },
  clearTimeout(timer) {
    clearTimeout(timer as NodeJS.Timeout)
  },
}

/** The rule for a `clock` option: an object with `now`, `setTimeout` and `clearTimeout` (optional). */
export const clockRule: OptionRule = {
  type: 'custom',
  expected: 'a Clock (an object with `now`, `setTimeout` and `clearTimeout` functions)',
  check: (value: unknown) =>
    typeof value === 'object' && value !== null && ['now', 'setTimeout', 'clearTimeout'].every((key) => typeof (value as Record<string, unknown>)[key] === 'function'),
  optional: true,
}
