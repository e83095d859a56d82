import { type ManagedPool } from '@lifeguard/core'
import { validateOptions } from '@lifeguard/core/adapter'
import { createPolicy, type AutoscalePoolConfig } from './create-policy.js'
import { attachOptionRules } from './internal/attach-options.js'
import { attachAutoscaler, type AttachOptions, type PoolAutoscaler } from './pool-autoscaler.js'

/** The seed's per-pool methods, added to a pool by `withDynamicSizing()`. */
export interface DynamicSizing {
  /**
   * Starts sizing this pool with `config`, replacing any config set before; `enabled: false` stops it
   * (the pool keeps its current size).
   *
   * @throws {InvalidOptionError} naming the bad field (the running config, if any, stays in place)
   */
  setDynamicPoolConfig(config: AutoscalePoolConfig): void
  /** The config in force, or `undefined`. */
  getDynamicPoolConfig(): AutoscalePoolConfig | undefined
  /** The running autoscaler, or `undefined` when sizing is off. */
  readonly dynamicSizing: PoolAutoscaler | undefined
}

const marker = Symbol.for('lifeguard.autoscale.dynamic-sizing')

/**
 * Gives any Lifeguard pool the seed's `setDynamicPoolConfig(config)`: the same pool object, with the
 * methods added (non-enumerable). Works for every adapter because it only uses the pool contract;
 * adapters need not know about this plugin. Calling it twice on a pool returns the pool as it is.
 *
 * @throws {InvalidOptionError} for bad options
 * @example
 * const orders = withDynamicSizing(createPostgresPool({ name: 'orders', connectionString }))
 * orders.setDynamicPoolConfig({ enabled: true, minSize: 2, maxSize: 20, scaleUpThreshold: 80,
 *   scaleDownThreshold: 30, scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 })
 */
export function withDynamicSizing<P extends ManagedPool>(pool: P, options: AttachOptions = {}): P & DynamicSizing {
  validateOptions('withDynamicSizing', options, attachOptionRules)
  const target = pool as P & DynamicSizing & { [marker]?: true }
  if (target[marker] === true) return target
  let config: AutoscalePoolConfig | undefined
  let running: PoolAutoscaler | undefined
  const methods: Pick<DynamicSizing, 'setDynamicPoolConfig' | 'getDynamicPoolConfig'> = {
    setDynamicPoolConfig(next: AutoscalePoolConfig): void {
      // Validate before touching the running autoscaler, so a bad config changes nothing.
      createPolicy(next, {}, `setDynamicPoolConfig for pool '${pool.name}'`)
      running?.stop()
      running = undefined
      config = Object.freeze({ ...next })
      if (next.enabled !== false) running = attachAutoscaler(pool, config, options)
    },
    getDynamicPoolConfig(): AutoscalePoolConfig | undefined {
      return config
    },
  }
  Object.defineProperties(target, {
    setDynamicPoolConfig: { value: methods.setDynamicPoolConfig, configurable: true },
    getDynamicPoolConfig: { value: methods.getDynamicPoolConfig, configurable: true },
    dynamicSizing: { get: () => (running?.running === true ? running : undefined), configurable: true },
    [marker]: { value: true },
  })
  return target
}
