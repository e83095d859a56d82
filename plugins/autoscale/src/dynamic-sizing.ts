import { PoolClosedError, type ManagedPool } from '@lifeguard/core'
import { checkOption, reportToUser, validateOptions } from '@lifeguard/core/adapter'
import { createPolicy, type AutoscalePoolConfig } from './create-policy.js'
import { attachOptionRules } from './internal/attach-options.js'
import { reportWarning } from './internal/report-warning.js'
import { checkSizeLimit } from './internal/size-limit.js'
import { attachAutoscaler, isPool, type AttachOptions, type PoolAutoscaler } from './pool-autoscaler.js'

/** The seed's per-pool methods, added to a pool by `withDynamicSizing()` or to a pool class by `installDynamicSizing()`. */
export interface DynamicSizing {
  /**
   * Starts sizing this pool with `config`, replacing any config set before; `enabled: false` stops it
   * (the pool keeps its current size).
   *
   * @throws {InvalidOptionError} naming the bad field, or a `maxSize` above the pool's own `maxSizeLimit`
   *   (the running config, if any, stays in place)
   * @throws {RegistrationError} when another autoscaler sizes the pool (nothing is recorded then)
   * @throws {PoolClosedError} once the pool is closing or closed
   */
  setDynamicPoolConfig(config: AutoscalePoolConfig): void
  /** The config in force, or `undefined`. */
  getDynamicPoolConfig(): AutoscalePoolConfig | undefined
  /** The running autoscaler, or `undefined` when sizing is off. */
  readonly dynamicSizing: PoolAutoscaler | undefined
}

/** A class whose instances are Lifeguard pools (`PostgresPool`, `MongoPool`, one of your own). */
export type PoolClass<P extends ManagedPool = ManagedPool> = abstract new (...args: never[]) => P

interface SizingState {
  readonly options: AttachOptions
  config?: AutoscalePoolConfig
  running?: PoolAutoscaler | undefined
}

// One state per pool, whichever way it got the methods.
const states = new WeakMap<ManagedPool, SizingState>()
const marker = Symbol.for('lifeguard.autoscale.dynamic-sizing')

function setConfig(pool: ManagedPool, options: AttachOptions, next: AutoscalePoolConfig): void {
  const where = `setDynamicPoolConfig for pool '${pool.name}'`
  // Validate before touching the running autoscaler, so a bad config changes nothing.
  checkSizeLimit(pool, createPolicy(next, {}, where).maxSize, where)
  // Accepted, the config would size nothing and say so nowhere.
  if (pool.state === 'closing' || pool.state === 'closed') throw new PoolClosedError(pool.name, 'size')
  let state = states.get(pool)
  if (state === undefined) states.set(pool, (state = { options }))
  const previous = state.running
  // Only a config still sizing the pool is put back if the new one is refused: one the user stopped stays stopped.
  const previousRan = previous?.running === true
  previous?.stop()
  state.running = undefined
  const config = Object.freeze({ ...next })
  // Attached first: another autoscaler sizing the pool refuses it, and then nothing is recorded.
  if (next.enabled !== false) {
    try {
      state.running = attachAutoscaler(pool, config, state.options)
    } catch (error) {
      // Refused (its budget sizes another pool): the running config stays in force, sizing the pool again.
      if (previousRan && state.config !== undefined) state.running = reattached(pool, state.config, state.options)
      throw error
    }
  }
  state.config = config
}

// The previous config, attached again after a new one was refused; undefined if that fails too, which goes
// to `onError` (the caller hears of the refusal only): the pool is then sized by nothing.
function reattached(pool: ManagedPool, config: AutoscalePoolConfig, options: AttachOptions): PoolAutoscaler | undefined {
  try {
    return attachAutoscaler(pool, config, options)
  } catch (error) {
    reportToUser(options.onError ?? reportWarning, error, `setDynamicPoolConfig for pool '${pool.name}'`, 'LIFEGUARD_AUTOSCALE_ON_ERROR_FAILED')
    return undefined
  }
}

// The methods, reading `this`: the same descriptors serve one pool or a whole class's prototype.
function descriptors(options: AttachOptions): PropertyDescriptorMap {
  return {
    setDynamicPoolConfig: {
      value: function setDynamicPoolConfig(this: ManagedPool, config: AutoscalePoolConfig): void {
        setConfig(this, options, config)
      },
      configurable: true,
    },
    getDynamicPoolConfig: {
      value: function getDynamicPoolConfig(this: ManagedPool): AutoscalePoolConfig | undefined {
        return states.get(this)?.config
      },
      configurable: true,
    },
    dynamicSizing: {
      get(this: ManagedPool): PoolAutoscaler | undefined {
        const running = states.get(this)?.running
        return running?.running === true ? running : undefined
      },
      configurable: true,
    },
    [marker]: { value: true, configurable: true },
  }
}

/**
 * Gives any Lifeguard pool the seed's `setDynamicPoolConfig(config)`: the same pool object, with the
 * methods added (non-enumerable). Works for every adapter because it only uses the pool contract;
 * adapters need not know about this plugin. Calling it twice on a pool returns the pool as it is.
 *
 * @throws {InvalidOptionError} for bad options, or a `pool` that is none (or is frozen or sealed: the methods are added to it)
 * @example
 * const orders = withDynamicSizing(createPostgresPool({ name: 'orders', connectionString }))
 * orders.setDynamicPoolConfig({ enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80,
 *   scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 })
 */
export function withDynamicSizing<P extends ManagedPool>(pool: P, options: AttachOptions = {}): P & DynamicSizing {
  checkOption('withDynamicSizing', 'pool', pool, { type: 'custom', expected: 'a ManagedPool (getPoolMetrics(), resize() and a name), not frozen or sealed', check: isPool })
  validateOptions('withDynamicSizing', options, attachOptionRules)
  const target = pool as P & DynamicSizing
  if (Object.hasOwn(target, marker)) return target
  Object.defineProperties(target, descriptors(options))
  return target
}

/**
 * Gives every instance of a pool class, existing and future, the seed's `setDynamicPoolConfig(config)`,
 * `getDynamicPoolConfig()` and `dynamicSizing` (on its prototype, non-enumerable). For the types, the
 * class's module is augmented: `@lifeguard/autoscale/postgres` and `@lifeguard/autoscale/mongodb` do both
 * for the Lifeguard adapters. Calling it again for the same class changes nothing.
 *
 * @param options - for every pool of the class: clock, `onError`, timers
 * @throws {InvalidOptionError} for bad options, or a class whose instances are not pools
 * @example
 * installDynamicSizing(MyPool)
 * new MyPool(options).setDynamicPoolConfig({ policy: 'adaptive', minSize: 2, maxSize: 50 })
 */
export function installDynamicSizing(poolClass: PoolClass, options: AttachOptions = {}): void {
  validateOptions('installDynamicSizing', options, attachOptionRules)
  checkOption('installDynamicSizing', 'poolClass', poolClass, { type: 'custom', expected: 'a pool class (instances with getPoolMetrics() and resize())', check: isPoolClass })
  const prototype = poolClass.prototype as object
  if (Object.hasOwn(prototype, marker)) return
  Object.defineProperties(prototype, descriptors(options))
}

function isPoolClass(value: unknown): boolean {
  const prototype = typeof value === 'function' ? (value.prototype as Partial<ManagedPool> | undefined) : undefined
  return typeof prototype?.getPoolMetrics === 'function' && typeof prototype.resize === 'function'
}
