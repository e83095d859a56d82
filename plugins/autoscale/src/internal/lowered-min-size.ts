// A pool's own minSize while an autoscaler has lowered it with maxSize, kept on the pool itself: a later
// autoscaler (after `stop()`, or a config change) restores that, not the lowered one.
import type { ManagedPool } from '@lifeguard/core'

const loweredMinSize = Symbol.for('lifeguard.autoscale.loweredMinSize')
interface LoweredMinSize {
  /** The pool's own minSize. */
  readonly base: number
  /** What the autoscaler lowered it to. */
  readonly applied: number
}
type LoweredPool = ManagedPool & { [loweredMinSize]?: LoweredMinSize }

/**
 * The pool's own minSize: `current`, unless `current` is what an autoscaler lowered it to. A record that
 * `current` no longer matches is dropped: the user set minSize since, and a later value that equals the
 * lowered one by chance must not bring the old one back.
 */
export function ownMinSize(pool: ManagedPool, current: number): number {
  const lowered = (pool as LoweredPool)[loweredMinSize]
  if (lowered === undefined) return current
  if (lowered.applied === current) return lowered.base
  delete (pool as LoweredPool)[loweredMinSize]
  return current
}

/** Notes the minSize an autoscaler applied: below the pool's own, it is remembered; else forgotten. */
export function noteMinSize(pool: ManagedPool, own: number, applied: number): void {
  if (applied < own) Object.defineProperty(pool, loweredMinSize, { value: { base: own, applied }, configurable: true, writable: true })
  else delete (pool as LoweredPool)[loweredMinSize]
}
