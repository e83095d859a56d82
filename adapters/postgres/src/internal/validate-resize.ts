import { type PoolSize, type ResizeOptions } from '@lifeguard/core'
import { rejectOption, validateOptions } from '@lifeguard/core/adapter'

/** Both bounds of a pool's size. */
export interface Size {
  minSize: number
  maxSize: number
}

/**
 * Checks a `resize()` call and returns the new size (a bound left out keeps its value).
 *
 * @throws {InvalidOptionError}
 */
export function validateResize(current: Size, size: PoolSize, options: ResizeOptions): Size {
  validateOptions('resize', size, {
    minSize: { type: 'integer', min: 0, optional: true },
    maxSize: { type: 'integer', min: 1, optional: true },
  })
  validateOptions('resize', options, {
    reason: { type: 'string', nonEmpty: true, optional: true },
    details: { type: 'object', optional: true },
  })
  const maxSize = size.maxSize ?? current.maxSize
  // Lowering only maxSize below the current minSize lowers minSize with it.
  const minSize = size.minSize ?? Math.min(current.minSize, maxSize)
  if (minSize > maxSize) rejectOption('resize', 'minSize', `an integer <= maxSize (${maxSize})`, minSize)
  return { minSize, maxSize }
}
