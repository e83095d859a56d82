import type { ManagedPool } from '@lifeguard/core'
import { rejectOption } from '@lifeguard/core/adapter'

/**
 * Refuses a policy whose `maxSize` the pool could never take: every growth past the limit would be a
 * failed `resize` reported at run time, where the config can be refused once, up front.
 *
 * @throws {InvalidOptionError} naming `maxSize`, its value and the pool's limit
 */
export function checkSizeLimit(pool: ManagedPool, maxSize: number, where: string): void {
  // The pool contract's `maxSizeLimit`: the MongoDB pool's is the driver's fixed `maxPoolSize`; a pool
  // without one has no limit of its own.
  const limit = pool.maxSizeLimit
  if (typeof limit !== 'number' || !(limit >= 1)) return
  if (maxSize > limit) rejectOption(where, 'maxSize', `an integer <= the pool's \`maxSizeLimit\` (${limit})`, maxSize)
}
