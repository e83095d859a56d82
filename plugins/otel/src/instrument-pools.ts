import { createNoopMeter, metrics, type MeterProvider } from '@opentelemetry/api'
import { RegistrationError, type PoolRegistry } from '@lifeguard/core'
import { checkOption, clockRule, looksLikeCredentials, redactText, reportToUser, systemClock, validateOptions, type Clock, type ClockTimer } from '@lifeguard/core/adapter'
import { RegistryReporter, type ReportOptions } from './internal/registry-reporter.js'

/** Options of `instrumentPools()`. */
export interface InstrumentPoolsOptions {
  /**
   * Where the instruments come from. Default: the global provider (`metrics.getMeterProvider()`), followed
   * as it is registered or replaced later.
   */
  meterProvider?: MeterProvider | undefined
  /** Record `db.client.operation.duration` per statement or command; default `true`. */
  operationDuration?: boolean | undefined
  /**
   * Label `db.client.operation.duration` with the `OperationContext` that ran each statement
   * (`lifeguard.operation.handler`, `lifeguard.operation.name`): database time per route. Default `false`:
   * two more attributes make each sample cost the SDK about half as much again, and multiply the series.
   */
  routeAttributes?: boolean | undefined
  /**
   * Put before every pool's registry name in `db.client.connection.pool.name`: `'billing.'` reports the pool
   * `orders` as `billing.orders`. Pool names are unique within a registry only; give each registry that
   * reports to a shared MeterProvider its own prefix. 1 to 100 characters, no control characters. Default:
   * none (the registry name as it is).
   */
  poolNamePrefix?: string | undefined
  /**
   * Receives what the instrumentation cannot do without failing the pools: a pool left unreported because
   * another instrumentation reports a pool of that name to the same MeterProvider (a `RegistrationError`),
   * a pool that refuses its listeners or fails to give its numbers (once, until it gives them again), and a
   * global MeterProvider that fails to give a meter or its instruments (once; a provider registered later
   * is followed as usual).
   * Default: `process.emitWarning` (code `LIFEGUARD_OTEL_POOL_NOT_REPORTED`).
   */
  onError?: ((error: unknown) => void) | undefined
  /** Where the check for a new global provider is scheduled (once a second); tests pass a manual clock. */
  clock?: Clock | undefined
}

/** What `instrumentPools()` returns: the live instrumentation of a registry's pools. */
export interface PoolInstrumentation {
  /** Names of the pools reported now, in the order they were picked up. */
  readonly pools: readonly string[]
  /** True while it reports to a real `MeterProvider`: false while none is registered yet, and after `stop()`. */
  readonly active: boolean
  /**
   * Reports to `meterProvider` from now on (the samples held back go to the previous one), and stops
   * following the global provider. What OpenTelemetry's `registerInstrumentations()` calls on its
   * instrumentations.
   *
   * @throws {InvalidOptionError} for something that is not a MeterProvider
   */
  setMeterProvider(meterProvider: MeterProvider): void
  /**
   * Removes every pool listener, the registry subscription and the provider check; the metric callback
   * reports every pool's zeros at the provider's next collection and then goes. Idempotent.
   */
  stop(): void
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void
}

/** The part of a `PoolRegistry` the plugin uses: following pools as they come and go. */
export type InstrumentedRegistry = Pick<PoolRegistry, 'subscribe'>

/** Name of the meter (instrumentation scope) every instrument belongs to. */
export const meterName = '@lifeguard/otel'

// How often the global provider is checked while following it: an application that registers its SDK
// after instrumenting loses at most this much of the first events.
const followIntervalMillis = 1000

// A prefix is a label, like the pool names it goes before: this keeps a connection string or a request id
// passed by mistake out of every series.
const maxPrefixLength = 100

const meterProviderRule = { type: 'custom', expected: 'a MeterProvider', check: isMeterProvider } as const
const optionRules = {
  meterProvider: { ...meterProviderRule, optional: true },
  operationDuration: { type: 'boolean', optional: true },
  routeAttributes: { type: 'boolean', optional: true },
  poolNamePrefix: { type: 'custom', expected: `a string of 1 to ${maxPrefixLength} characters without control characters or credentials (a label, never a connection string)`, check: isPoolNamePrefix, optional: true },
  onError: { type: 'function', optional: true },
  clock: clockRule,
} as const

/**
 * Reports every pool of a registry through OpenTelemetry: the connection pool metrics of the semantic
 * conventions (`db.client.connection.*`), `db.client.operation.duration` per statement or command, and
 * Lifeguard's `lifeguard.pool.*` counters, each pool with its own `db.client.connection.pool.name`. Pools
 * registered later are picked up; a closed pool reports zeros once and is no longer read (the SDK keeps
 * exporting its series, as for any series, for the provider's life). A pool whose name another instrumentation
 * reports to the same MeterProvider already is left out and reported to `onError` (their series would mix):
 * give each registry its own `poolNamePrefix`. Uses `@opentelemetry/api` only: while no
 * SDK is registered the meter is a no-op and nothing is subscribed at all; without a `meterProvider`
 * option it follows the global provider, so the SDK may be registered before or after this call.
 *
 * @param registry - the service's pool registry
 * @throws {InvalidOptionError} for a missing registry or a bad or unknown option
 * @throws {RegistrationError} when the registry is instrumented already (stop that first)
 * @example
 * const meterProvider = new MeterProvider({ readers: [new PrometheusExporter({ port: 9464 })] })
 * const instrumentation = instrumentPools(registry, { meterProvider })
 * // a second registry on the same provider, with pools of the same names
 * instrumentPools(billingRegistry, { meterProvider, poolNamePrefix: 'billing.' })
 * // on shutdown
 * instrumentation.stop()
 */
export function instrumentPools(registry: InstrumentedRegistry, options?: InstrumentPoolsOptions): PoolInstrumentation {
  checkOption('instrumentPools', 'registry', registry, { type: 'custom', expected: 'a PoolRegistry that is not frozen or sealed (its instrumentation is kept on it)', check: isRegistry })
  const { meterProvider, operationDuration = true, routeAttributes = false, poolNamePrefix = '', onError = warnNotReported, clock = systemClock } = validateOptions('instrumentPools', options, optionRules)
  // A second instrumentation of the same pools counted every event twice on a shared provider.
  if ((registry as Instrumented)[instrumentedBy] !== undefined) {
    throw new RegistrationError('The registry is instrumented already: stop() the instrumentation first. To export to several places, give its MeterProvider more readers.')
  }
  const instrumentation = new RegistryInstrumentation(registry, { operationDuration, routeAttributes, poolNamePrefix, onError }, meterProvider, clock)
  Object.defineProperty(registry, instrumentedBy, { value: instrumentation, configurable: true, writable: true })
  return instrumentation
}

// Where a registry keeps its instrumentation: on the registry itself, so that two copies of this package
// see the same one, and nothing outlives the registry.
const instrumentedBy = Symbol.for('lifeguard.otel.instrumentedBy')
type Instrumented = InstrumentedRegistry & { [instrumentedBy]?: PoolInstrumentation }

class RegistryInstrumentation implements PoolInstrumentation {
  readonly #registry: InstrumentedRegistry
  readonly #report: ReportOptions
  readonly #clock: Clock
  #reporter: RegistryReporter | undefined
  // The provider reported to (or found a no-op) last.
  #provider: MeterProvider | undefined
  #followTimer: ClockTimer | undefined
  #stopped = false

  constructor(registry: InstrumentedRegistry, report: ReportOptions, meterProvider: MeterProvider | undefined, clock: Clock) {
    this.#registry = registry
    this.#report = report
    this.#clock = clock
    if (meterProvider !== undefined) this.#bind(meterProvider)
    else this.#follow()
  }

  get pools(): readonly string[] {
    return this.#reporter?.pools ?? []
  }

  get active(): boolean {
    return this.#reporter !== undefined
  }

  setMeterProvider(meterProvider: MeterProvider): void {
    checkOption('setMeterProvider', 'meterProvider', meterProvider, meterProviderRule)
    if (this.#stopped) return
    this.#unfollow()
    this.#bind(meterProvider)
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    const registry = this.#registry as Instrumented
    if (registry[instrumentedBy] === this) delete registry[instrumentedBy]
    this.#unfollow()
    this.#reporter?.stop()
    this.#reporter = undefined
  }

  [Symbol.dispose](): void {
    this.stop()
  }

  // The global provider now, and again every interval: it may be registered, replaced or disabled later.
  #follow(): void {
    const global = metrics.getMeterProvider()
    try {
      if (global !== this.#provider) this.#bind(global)
    } catch (error) {
      // A global provider that fails to give a meter or its instruments: reported once (it stays the one
      // bound, with nothing reported to it), and the checks go on for the next one.
      reportToUser(this.#report.onError, error, 'instrumentPools()', 'LIFEGUARD_OTEL_ON_ERROR_FAILED')
    }
    // `onError` may have stopped the instrumentation, or bound a provider of its own (which ends the following).
    if (this.#stopped || this.#provider !== global) return
    this.#followTimer = this.#clock.setTimeout(() => this.#follow(), followIntervalMillis, true)
  }

  #unfollow(): void {
    if (this.#followTimer !== undefined) this.#clock.clearTimeout(this.#followTimer)
    this.#followTimer = undefined
  }

  #bind(provider: MeterProvider): void {
    this.#provider = provider
    this.#reporter?.stop()
    this.#reporter = undefined
    const meter = provider.getMeter(meterName)
    // The API's no-op meter records nothing: listening to the pools would be pure cost.
    if (meter === createNoopMeter()) return
    const reporter = new RegistryReporter(this.#registry, provider, meter, this.#report)
    // Its replay of the pools reports a refused one to `onError`, which may have stopped the instrumentation
    // or bound another provider meanwhile.
    if (this.#stopped || this.#provider !== provider) reporter.stop()
    else this.#reporter = reporter
  }
}

function isMeterProvider(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { getMeter?: unknown }).getMeter === 'function'
}

// The same rule as a pool's name, which the prefix becomes part of: no connection string, no `password=`, no
// `user:password@`.
function isPoolNamePrefix(value: unknown): boolean {
  return typeof value === 'string' && value.length >= 1 && value.length <= maxPrefixLength && !/[\u0000-\u001f\u007f]/.test(value) && !looksLikeCredentials(value)
}

// Redacted: what it reports may come from outside the plugin (a pool of another library whose metrics
// throw, a provider that fails), and a driver's message may quote a connection string.
function warnNotReported(error: unknown): void {
  process.emitWarning(redactText(error instanceof Error ? error.message : String(error)), { code: 'LIFEGUARD_OTEL_POOL_NOT_REPORTED' })
}

// Extensible: the instrumentation is marked on the registry once it runs, and a frozen one would refuse the
// mark only then, leaving an instrumentation that reports for good with no handle to stop it.
function isRegistry(value: unknown): boolean {
  return typeof value === 'object' && value !== null && typeof (value as { subscribe?: unknown }).subscribe === 'function' && Object.isExtensible(value)
}
