import type { MeterProvider } from '@opentelemetry/api'
import type { RejectionTotals } from './pool-tracker.js'

// The rejections counted under each `db.client.connection.pool.name` by pools no longer reported, per
// MeterProvider: the next pool of that name adds them to its own, also when another instrumentation reports it
// (a registry replaced on reload), so that `lifeguard.pool.rejections` never goes back. On the global object and
// in a WeakMap, as the name claims are (see pool-name-claims.ts).
const carriedKey = Symbol.for('lifeguard.otel.carriedRejections')
type CarriedByProvider = WeakMap<MeterProvider, Map<string, CarriedRejections>>
type WithCarried = typeof globalThis & { [carriedKey]?: CarriedByProvider }

/** What was reported under one name when its pool stopped being reported. */
export interface CarriedRejections {
  /** Everything reported under the name, that pool's own counts included. */
  readonly totals: RejectionTotals
  /** That pool (held weakly: it must not keep its driver alive) and its own counts then. */
  readonly pool: WeakRef<object>
  readonly own: RejectionTotals
}

/**
 * Where a pool reported under `name` starts counting: after everything reported under the name before, but
 * without its own counts when it is the very pool reported before (its counters go on from where they were:
 * reported again, on a provider set again, they would be added twice).
 */
export function rejectionsBefore(carried: CarriedRejections | undefined, pool: object): RejectionTotals | undefined {
  if (carried === undefined) return undefined
  if (carried.pool.deref() !== pool) return carried.totals
  return { exhausted: carried.totals.exhausted - carried.own.exhausted, aborted: carried.totals.aborted - carried.own.aborted }
}

/** The rejections carried under each pool name on `provider`. */
export function carriedRejections(provider: MeterProvider): Map<string, CarriedRejections> {
  const byProvider = ((globalThis as WithCarried)[carriedKey] ??= new WeakMap())
  let carried = byProvider.get(provider)
  if (carried === undefined) byProvider.set(provider, (carried = new Map()))
  return carried
}
