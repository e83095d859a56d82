import type { BatchObservableCallback, BatchObservableResult, Meter, MeterProvider } from '@opentelemetry/api'
import { RegistrationError, type ManagedPool, type PoolRegistry } from '@lifeguard/core'
import { reportToUser } from '@lifeguard/core/adapter'
import { attributeNames } from '../semantic-conventions.js'
import { createPoolInstruments, observables } from './pool-instruments.js'
import { carriedRejections, rejectionsBefore, type CarriedRejections } from './carried-rejections.js'
import { PoolNameClaims } from './pool-name-claims.js'
import { PoolTracker } from './pool-tracker.js'

/** What `instrumentPools()` was asked to record. */
export interface ReportOptions {
  readonly operationDuration: boolean
  readonly routeAttributes: boolean
  /** Put before every pool's registry name in `db.client.connection.pool.name` (`''` for none). */
  readonly poolNamePrefix: string
  /** Receives a pool that is not reported because another instrumentation reports its name. */
  readonly onError: (error: unknown) => void
}

/**
 * Everything that reports a registry's pools to one meter: the instruments, a tracker per pool, the
 * batch callback of the observable instruments and the registry subscription. Replaced as a whole when
 * the instrumentation moves to another `MeterProvider`.
 */
export class RegistryReporter {
  readonly #trackers = new Map<ManagedPool, PoolTracker>()
  // Pools removed from the registry, reported as closed by the next collection and then forgotten: their
  // reports only, which hold no pool.
  readonly #retiring = new Set<(result: BatchObservableResult) => void>()
  readonly #observe: BatchObservableCallback
  readonly #observed: ReturnType<typeof observables>
  readonly #unsubscribe: () => void
  readonly #claims: PoolNameClaims
  // Trackers whose last collection failed (see the batch callback).
  readonly #failing = new WeakSet<PoolTracker>()
  // The rejections counted under each name by pools no longer reported, for the next pool of that name.
  readonly #rejectionsBefore: Map<string, CarriedRejections>
  #active = true

  constructor(registry: Pick<PoolRegistry, 'subscribe'>, provider: MeterProvider, meter: Meter, options: ReportOptions) {
    this.#claims = new PoolNameClaims(provider)
    this.#rejectionsBefore = carriedRejections(provider)
    const instruments = createPoolInstruments(meter, options.operationDuration)
    this.#observed = observables(instruments)
    this.#observe = (result) => {
      for (const closedReport of this.#retiring) closedReport(result)
      this.#retiring.clear()
      if (!this.#active) {
        // Stopped: that was the pools' last report. Removed once this collection has called every callback
        // (the SDK walks its list as it calls them; a removal now would skip the next one).
        queueMicrotask(() => meter.removeBatchObservableCallback(this.#observe, this.#observed))
        return
      }
      for (const tracker of this.#trackers.values()) {
        try {
          if (!tracker.observe(result)) this.#drop(tracker.pool)
          this.#failing.delete(tracker)
        } catch (error) {
          // One pool failing to report must not hide the others; its next collection tries again. Said once
          // until it reports again, not at every collection.
          if (!this.#failing.has(tracker)) report(options.onError, error)
          this.#failing.add(tracker)
        }
      }
    }
    meter.addBatchObservableCallback(this.#observe, this.#observed)
    this.#unsubscribe = registry.subscribe({
      added: (pool) => {
        if (!this.#active || this.#trackers.has(pool) || pool.state === 'closed') return
        const name = options.poolNamePrefix + pool.name
        if (!this.#claims.claim(name, this)) return report(options.onError, nameTaken(pool.name, name))
        try {
          this.#trackers.set(pool, new PoolTracker(pool, name, instruments, options.routeAttributes, rejectionsBefore(this.#rejectionsBefore.get(name), pool)))
        } catch (error) {
          // Not reported: its name is free again for whoever can report it.
          this.#claims.release(name, this)
          report(options.onError, error)
        }
      },
      removed: (pool) => this.#retire(pool),
    })
  }

  /** Names of the pools reported now, in the order they were picked up (a pool closed on its own is not). */
  get pools(): string[] {
    return [...this.#trackers.keys()].filter((pool) => pool.state !== 'closed').map((pool) => pool.name)
  }

  /**
   * Removes every pool listener and the registry subscription, and records what was held back. The next
   * collection reports every pool as closed (zeros), then the callback goes: the SDK would otherwise export
   * each gauge's last value for as long as the provider runs (opentelemetry-js#4096).
   */
  stop(): void {
    if (!this.#active) return
    this.#active = false
    this.#unsubscribe()
    for (const pool of [...this.#trackers.keys()]) this.#retire(pool)
  }

  #drop(pool: ManagedPool): void {
    const tracker = this.#trackers.get(pool)
    if (tracker === undefined) return
    tracker.detach()
    this.#trackers.delete(pool)
    this.#rejectionsBefore.set(tracker.name, { totals: tracker.rejectionTotals(), pool: new WeakRef(tracker.pool), own: tracker.ownRejections() })
    // At once, not after the closing report: an instrumentation started right after this one stopped (a
    // registry replaced on reload) must get its names. Its live numbers still win the next collection over
    // these zeros, its batch callback coming later.
    this.#claims.release(tracker.name, this)
  }

  #retire(pool: ManagedPool): void {
    const tracker = this.#trackers.get(pool)
    if (tracker === undefined) return
    this.#drop(pool)
    this.#retiring.add(tracker.closedReport())
  }
}

function nameTaken(poolName: string, name: string): RegistrationError {
  const as = name === poolName ? '' : ` as '${name}'`
  return new RegistrationError(
    `Could not report pool '${poolName}'${as}. Another instrumentation reports a pool under that ${attributeNames.poolName} to the same MeterProvider, ` +
      'and the two would overwrite each other\'s gauges and add up their counters. Give each registry its own `poolNamePrefix` ' +
      "(`instrumentPools(registry, { poolNamePrefix: 'billing.' })`), or stop() the other instrumentation first.",
  )
}

// A failing onError must not break the registry's subscription or the caller of instrumentPools().
function report(onError: (error: unknown) => void, error: unknown): void {
  reportToUser(onError, error, 'instrumentPools()', 'LIFEGUARD_OTEL_ON_ERROR_FAILED')
}
