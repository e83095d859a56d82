import { performance } from 'node:perf_hooks'

/**
 * A monotonic clock in milliseconds. Policies and autoscalers take one, so tests can drive time
 * step by step instead of waiting for it.
 */
export interface Clock {
  /** Milliseconds since an arbitrary origin; never goes backwards. */
  now(): number
}

/**
 * The process clock (`performance.now()`), the default everywhere.
 *
 * @example
 * const policy = new AdaptivePolicy(config, { clock: systemClock })
 */
export const systemClock: Clock = { now: () => performance.now() }
