import type { MeterProvider } from '@opentelemetry/api'
import type { RejectionTotals } from './pool-tracker.js'

// The rejections counted under each `db.client.connection.pool.name` by pools no longer reported, per
// MeterProvider: the next pool of that name adds them to its own, also when another instrumentation reports it
// (a registry replaced on reload), so that `lifeguard.pool.rejections` never goes back. On the global object and
// in a WeakMap, as the name claims are (see pool-name-claims.ts).
const carriedKey = Symbol.for('lifeguard.otel.carriedRejections')
type CarriedByProvider = WeakMap<MeterProvider, Map<string, RejectionTotals>>
type WithCarried = typeof globalThis & { [carriedKey]?: CarriedByProvider }

/** The rejections carried under each pool name on `provider`. */
export function carriedRejections(provider: MeterProvider): Map<string, RejectionTotals> {
  const byProvider = ((globalThis as WithCarried)[carriedKey] ??= new WeakMap())
  let carried = byProvider.get(provider)
  if (carried === undefined) byProvider.set(provider, (carried = new Map()))
  return carried
}
