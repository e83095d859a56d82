import { createNoopMeter, metrics, type BatchObservableCallback, type MeterProvider } from '@opentelemetry/api'
import { type ManagedPool, type PoolRegistry } from '@lifeguard/core'
import { checkOption, validateOptions } from '@lifeguard/core/adapter'
import { createPoolInstruments, observables } from './internal/pool-instruments.js'
import { PoolTracker } from './internal/pool-tracker.js'

/** Options of `instrumentPools()`. */
export interface InstrumentPoolsOptions {
  /** Where the instruments come from; default: the global provider (`metrics.getMeterProvider()`). */
  meterProvider?: MeterProvider | undefined
  /** Record `db.client.operation.duration` per checkout with the operation's handler and name; default `true`. */
  operationDuration?: boolean | undefined
}

/** What `instrumentPools()` returns: the live instrumentation of a registry's pools. */
export interface PoolInstrumentation {
  /** Names of the pools reported now, in the order they were picked up. */
  readonly pools: readonly string[]
  /** False once `stop()` was called, or from the start when the meter is a no-op (no SDK registered). */
  readonly active: boolean
  /** Removes every pool listener, the registry subscription and the metric callback. Idempotent. */
  stop(): void
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void
}

/** The part of a `PoolRegistry` the plugin uses: following pools as they come and go. */
export type InstrumentedRegistry = Pick<PoolRegistry, 'subscribe'>

/** Name of the meter (instrumentation scope) every instrument belongs to. */
export const meterName = '@lifeguard/otel'

const optionRules = {
  meterProvider: { type: 'custom', expected: 'a MeterProvider', check: isMeterProvider, optional: true },
  operationDuration: { type: 'boolean', optional: true },
} as const

/**
 * Reports every pool of a registry through OpenTelemetry: the connection pool metrics of the semantic
 * conventions (`db.client.connection.*`), `db.client.operation.duration` per checkout, and Lifeguard's
 * `lifeguard.pool.*` counters, each pool with its own `db.client.connection.pool.name`. Pools registered
 * later are picked up; closed pools stop reporting. Uses `@opentelemetry/api` only: with no SDK
 * registered the meter is a no-op and nothing is subscribed at all.
 *
 * @param registry - the service's pool registry
 * @throws {InvalidOptionError} for a missing registry or a bad or unknown option
 * @example
 * const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ port: 9464 })] })
 * const instrumentation = instrumentPools(registry, { meterProvider })
 * // on shutdown
 * instrumentation.stop()
 */
export function instrumentPools(registry: InstrumentedRegistry, options?: InstrumentPoolsOptions): PoolInstrumentation {
  checkOption('instrumentPools', 'registry', registry, { type: 'custom', expected: 'a PoolRegistry', check: isRegistry })
  const { meterProvider = metrics.getMeterProvider(), operationDuration = true } = validateOptions('instrumentPools', options, optionRules)
  const meter = meterProvider.getMeter(meterName)
  if (meter === createNoopMeter()) return inert

  const instruments = createPoolInstruments(meter, operationDuration)
  const observed = observables(instruments)
  const trackers = new Map<ManagedPool, PoolTracker>()
  // Pools removed from the registry, reported as closed by the next collection and then forgotten.
  const retiring = new Set<PoolTracker>()
  let active = true

  const observe: BatchObservableCallback = (result) => {
    for (const tracker of retiring) tracker.observeClosed(result)
    retiring.clear()
    for (const tracker of trackers.values()) {
      try {
        if (!tracker.observe(result)) drop(tracker.pool)
      } catch {
        // One pool failing to report must not hide the others; its next collection tries again.
      }
    }
  }
  const drop = (pool: ManagedPool): void => {
    trackers.get(pool)?.detach()
    trackers.delete(pool)
  }
  const retire = (pool: ManagedPool): void => {
    const tracker = trackers.get(pool)
    if (tracker === undefined) return
    drop(pool)
    retiring.add(tracker)
  }

  meter.addBatchObservableCallback(observe, observed)
  const unsubscribe = registry.subscribe({
    added(pool) {
      if (active && !trackers.has(pool) && pool.state !== 'closed') trackers.set(pool, new PoolTracker(pool, instruments))
    },
    removed: retire,
  })

  const stop = (): void => {
    if (!active) return
    active = false
    unsubscribe()
    meter.removeBatchObservableCallback(observe, observed)
    for (const pool of [...trackers.keys()]) drop(pool)
    retiring.clear()
  }
  return {
    get pools() {
      return [...trackers.keys()].map((pool) => pool.name)
    },
    get active() {
      return active
    },
    stop,
    [Symbol.dispose]: stop,
  }
}

// Returned when the meter is the API's no-op: there is nothing to record, so nothing is subscribed.
const inert: PoolInstrumentation = Object.freeze({
  pools: Object.freeze([]),
  active: false,
  stop() {},
  [Symbol.dispose]() {},
})

function isMeterProvider(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { getMeter?: unknown }).getMeter === 'function'
}

function isRegistry(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { subscribe?: unknown }).subscribe === 'function'
}
