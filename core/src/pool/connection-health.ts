// The health rules of a pooled connection: whether an idle one may be handed out or must be validated
// first, and whether a released one goes back idle or closes, and why. Plain functions of the connection,
// the pool's options and the time, so the checkout and release paths allocate nothing to apply them.
import type { DisconnectReason } from '../pool-events.js'
import type { PoolEngineOptions } from './engine-options.js'
import type { PooledConnection } from './pooled-connection.js'

/** True when an idle connection may be handed out: not broken, not past its lifetime. */
export function usable<C>(lease: PooledConnection<C>, options: PoolEngineOptions<C>, now: number): boolean {
  return lease.broken === undefined && !options.factory.isBroken(lease.connection) && now < lease.expiresAt
}

/** Why a connection that is not `usable` is closed. */
export function unusableReason<C>(lease: PooledConnection<C>, options: PoolEngineOptions<C>): DisconnectReason {
  return lease.broken !== undefined || options.factory.isBroken(lease.connection) ? 'error' : 'lifetime'
}

/** True when an idle connection sat idle long enough to be validated before it is handed out. */
export function needsValidation<C>(lease: PooledConnection<C>, options: PoolEngineOptions<C>, now: number): boolean {
  return options.factory.validate !== undefined && now - lease.idleSince >= options.validateAfterIdleMillis
}

/**
 * Why a released connection must close for reasons of its own or of a closing pool, or undefined when
 * none applies (its `uses` already count this checkout). The caller reports a `destroy` error, and judges
 * last whether keeping it would pass `maxSize` (a count it need not take on most releases).
 *
 * @param closing - the pool is closing
 */
export function releaseVerdict<C>(
  lease: PooledConnection<C>,
  destroy: boolean | Error | undefined,
  options: PoolEngineOptions<C>,
  closing: boolean,
  now: number,
): DisconnectReason | undefined {
  if (destroy instanceof Error) return 'error'
  if (destroy === true) return 'released'
  if (lease.broken !== undefined || options.factory.isBroken(lease.connection)) return 'error'
  if (closing) return 'closed'
  if (lease.evicted) return 'evicted'
  if (lease.uses >= options.maxUses || now >= lease.expiresAt) return 'lifetime'
  return undefined
}
