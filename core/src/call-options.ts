import { checkOption, MAX_POOL_SIZE, rejectOption, validateOptions } from './options.js'
import type { PoolSize, ResizeOptions, WarmupOptions } from './pool-contract.js'

// The arguments of the pool contract's methods (`warmup`, `resize`, `close`), checked the same way by every
// adapter and by the registry, so a bad call is the same `InvalidOptionError` whatever the database.

/** Both bounds of a pool's size. */
export interface SizeBounds {
  /** The lower size bound. */
  minSize: number
  /** The upper size bound. */
  maxSize: number
}

/**
 * Checks the options of `warmup()`: `connections` an integer from 1 to `maxSize`, `timeoutMillis` a duration
 * of at least 1 ms.
 *
 * @param maxSize - the pool's `maxSize` (the registry passes the smallest of its pools)
 * @throws {InvalidOptionError}
 * @example
 * checkWarmupOptions('warmup', options, this.maxSize)
 */
export function checkWarmupOptions(where: string, options: WarmupOptions | undefined, maxSize: number): void {
  validateOptions(where, options, {
    connections: { type: 'integer', min: 1, max: maxSize, optional: true },
    timeoutMillis: { type: 'duration', min: 1, optional: true },
  })
}

/**
 * Checks the options of `close()`: `timeoutMillis` a duration.
 *
 * @throws {InvalidOptionError}
 */
export function checkCloseOptions(where: string, options: { timeoutMillis?: number | undefined } | undefined): void {
  validateOptions(where, options, { timeoutMillis: { type: 'duration', optional: true } })
}

/**
 * Checks a `resize()` call and returns the new bounds. A bound left out keeps its value, except that a
 * `maxSize` alone below the current `minSize` lowers `minSize` with it (what an autoscaler expects).
 *
 * @param limit - the highest `maxSize` the pool accepts (`MAX_POOL_SIZE` unless it has a lower one)
 * @throws {InvalidOptionError} for a missing `size`, a bound out of range, or `minSize` > `maxSize`
 * @example
 * const next = resolveResize('resize', { minSize: 2, maxSize: 10 }, size, options)
 */
export function resolveResize(where: string, current: SizeBounds, size: PoolSize, options?: ResizeOptions, limit = MAX_POOL_SIZE): SizeBounds {
  checkOption(where, 'size', size, { type: 'custom', expected: 'an object like `{ maxSize: 20 }`', check: (v) => typeof v === 'object' && v !== null && !Array.isArray(v) })
  validateOptions(where, size, {
    minSize: { type: 'integer', min: 0, max: limit, optional: true },
    maxSize: { type: 'integer', min: 1, max: limit, optional: true },
  })
  validateOptions(where, options, {
    reason: { type: 'string', nonEmpty: true, optional: true },
    details: { type: 'object', optional: true },
    keepSurplusMillis: { type: 'duration', optional: true },
  })
  const maxSize = size.maxSize ?? current.maxSize
  const minSize = size.minSize ?? Math.min(current.minSize, maxSize)
  if (minSize > maxSize) rejectOption(where, 'minSize', `an integer <= \`maxSize\` (${maxSize})`, minSize)
  return { minSize, maxSize }
}
