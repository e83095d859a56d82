import type { BatchObservableCallback, Meter } from '@opentelemetry/api'
import type { ManagedPool, PoolRegistry } from '@lifeguard/core'
import { createPoolInstruments, observables } from './pool-instruments.js'
import { PoolTracker } from './pool-tracker.js'

/** What `instrumentPools()` was asked to record. */
export interface ReportOptions {
  readonly operationDuration: boolean
  readonly routeAttributes: boolean
}

/**
 * Everything that reports a registry's pools to one meter: the instruments, a tracker per pool, the
 * batch callback of the observable instruments and the registry subscription. Replaced as a whole when
 * the instrumentation moves to another `MeterProvider`.
 */
export class RegistryReporter {
  readonly #trackers = new Map<ManagedPool, PoolTracker>()
  // Pools removed from the registry, reported as closed by the next collection and then forgotten.
  readonly #retiring = new Set<PoolTracker>()
  readonly #observe: BatchObservableCallback
  readonly #observed: ReturnType<typeof observables>
  readonly #unsubscribe: () => void
  #active = true

  constructor(registry: Pick<PoolRegistry, 'subscribe'>, meter: Meter, options: ReportOptions) {
    const instruments = createPoolInstruments(meter, options.operationDuration)
    this.#observed = observables(instruments)
    this.#observe = (result) => {
      for (const tracker of this.#retiring) tracker.observeClosed(result)
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
        } catch {
          // One pool failing to report must not hide the others; its next collection tries again.
        }
      }
    }
    meter.addBatchObservableCallback(this.#observe, this.#observed)
    this.#unsubscribe = registry.subscribe({
      added: (pool) => {
        if (this.#active && !this.#trackers.has(pool) && pool.state !== 'closed') this.#trackers.set(pool, new PoolTracker(pool, instruments, options.routeAttributes))
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
    this.#trackers.get(pool)?.detach()
    this.#trackers.delete(pool)
  }

  #retire(pool: ManagedPool): void {
    const tracker = this.#trackers.get(pool)
    if (tracker === undefined) return
    this.#drop(pool)
    this.#retiring.add(tracker)
  }
}
