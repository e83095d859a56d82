import type { MeterProvider } from '@opentelemetry/api'

// Who reports each `db.client.connection.pool.name`, per MeterProvider. Two instrumentations (of two
// registries, or of one pool in two registries) reporting one name to one provider share every series: the
// gauges overwrite each other (the last batch callback wins) and the counters and histograms add up. On the
// global object, so that two copies of this package see each other's claims; a WeakMap, so that nothing
// outlives the provider.
const claimsKey = Symbol.for('lifeguard.otel.poolNameClaims')
type ClaimsByProvider = WeakMap<MeterProvider, Map<string, object>>
type WithClaims = typeof globalThis & { [claimsKey]?: ClaimsByProvider }

/** The pool names claimed on one MeterProvider. */
export class PoolNameClaims {
  readonly #claims: Map<string, object>

  constructor(provider: MeterProvider) {
    const byProvider = ((globalThis as WithClaims)[claimsKey] ??= new WeakMap())
    let claims = byProvider.get(provider)
    if (claims === undefined) byProvider.set(provider, (claims = new Map()))
    this.#claims = claims
  }

  /** Claims `name` for `owner`: false when another owner reports it already. */
  claim(name: string, owner: object): boolean {
    const holder = this.#claims.get(name)
    if (holder !== undefined && holder !== owner) return false
    this.#claims.set(name, owner)
    return true
  }

  /** Gives `name` up, if `owner` holds it. */
  release(name: string, owner: object): void {
    if (this.#claims.get(name) === owner) this.#claims.delete(name)
  }
}
