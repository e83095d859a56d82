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
  /** Calls `callback` once, `millis` from now. Timers of the system clock do not keep the process alive. */
  setTimeout(callback: () => void, millis: number): ClockTimer
  clearTimeout(timer: ClockTimer): void
}

/**
 * The process clock: `performance.now()` and Node's timers, unref'd (a pool's housekeeping must not
 * keep a finished process running).
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, millis) {
    const timer = setTimeout(callback, millis)
    timer.unref()
    return timer
  },
  clearTimeout(timer) {
    clearTimeout(timer as NodeJS.Timeout)
  },
}
