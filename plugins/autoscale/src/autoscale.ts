import { type ManagedPool, type PoolRegistry } from '@lifeguard/core'
import { checkOption, reportToUser, shownName, validateOptions } from '@lifeguard/core/adapter'
import { checkCustomPolicy, createPolicy, meantAsPolicy, type AutoscalePoolConfig } from './create-policy.js'
import { attachOptionRules } from './internal/attach-options.js'
import { budgetOf, isEnabled } from './internal/config-info.js'
import { reportWarning } from './internal/report-warning.js'
import { refuseSharedBudget, refuseSharedPolicy } from './internal/sizing-claims.js'
import { prepareAutoscaler, type AttachOptions, type PoolAutoscaler, type PreparedAutoscaler } from './pool-autoscaler.js'
import type { ScalingPolicy } from './scaling-policy.js'
import type { SharedBudget } from './shared-budget.js'

/** Options of `autoscale()`. */
export interface AutoscaleOptions extends AttachOptions {
  /**
   * Config (or a policy object) per pool name. Pools not named here are left alone. A config gives each pool
   * that arrives under the name a fresh policy; a policy object keeps its state for the next pool of that
   * name, and may size one pool at a time (two names given one object are refused).
   */
  pools: Readonly<Record<string, AutoscalePoolConfig | ScalingPolicy>>
}

/** What `autoscale()` returns. */
export interface Autoscaler {
  /** Names of the pools being sized now. */
  readonly pools: readonly string[]
  /**
   * The autoscaler of one pool: the one running, or the last one (stopped) after its pool closed on its own;
   * `undefined` once the registry removed or closed the pool, and for every pool after `stop()`.
   */
  get(name: string): PoolAutoscaler | undefined
  /** Ends evaluation for every pool and stops following the registry; pools keep their current size. Idempotent. */
  stop(): void
  /** Same as `stop()`, for `using`. */
  [Symbol.dispose](): void
}

/** The part of a `PoolRegistry` the plugin uses: following pools as they come and go. */
export type AutoscaledRegistry = Pick<PoolRegistry, 'subscribe'>

/**
 * Sizes the named pools of a registry from their measured load. Follows the registry: a pool registered
 * later is picked up when it arrives, a closed one is dropped. Configs are checked at once, so a bad one
 * throws here rather than when its pool appears. A config with `enabled: false` is skipped. A pool that
 * cannot grow to its config's `maxSize` (its own `maxSizeLimit` is lower) is refused: here when it is
 * registered already, through `onError` when it arrives later (and it is left alone).
 *
 * @throws {InvalidOptionError} naming the pool and the bad field (or a budget two pools share)
 * @throws {RegistrationError} when a registered pool is sized already (by another `autoscale()`, or
 *   `setDynamicPoolConfig`). Every registered pool is checked before any autoscaler starts: after a refusal no
 *   pool was resized
 * @example
 * const scaler = autoscale(registry, {
 *   pools: {
 *     orders: { policy: 'adaptive', minSize: 2, maxSize: 60 },
 *     reports: { enabled: true, minSize: 1, maxSize: 10, scaleUpThreshold: 80, scaleDownThreshold: 30,
 *       scaleUpIncrement: 2, scaleDownIncrement: 1, evaluationInterval: 5000 },
 *   },
 * })
 * // on shutdown, before registry.close():
 * scaler.stop()
 */
export function autoscale(registry: AutoscaledRegistry, options: AutoscaleOptions): Autoscaler {
  checkOption('autoscale', 'registry', registry, { type: 'custom', expected: 'a PoolRegistry', check: (v) => typeof (v as AutoscaledRegistry | null)?.subscribe === 'function' })
  // A plain object: a Map (or a class instance) has no own entries to read, and would size nothing, silently.
  validateOptions('autoscale', options, { ...attachOptionRules, pools: { type: 'custom', expected: 'a plain object of configs by pool name', check: isPlainObject } })
  const { pools, ...attach } = options
  // Taken as they are now: an entry added later would skip these checks.
  const configs = Object.freeze({ ...pools })
  // Which pool name each budget and policy object went to: two names given one are refused here, whether or
  // not their pools are registered yet (the claims made as autoscalers start would refuse the second only
  // when it arrived, through `onError`, leaving it unsized).
  const budgets = new Map<SharedBudget, string>()
  const policies = new Map<ScalingPolicy, string>()
  for (const [name, config] of Object.entries(configs)) {
    // Built once here only to check it; each pool that arrives gets a fresh policy from a config (its own state).
    // Shown, not quoted: a connection string given as the key keeps its password.
    const where = `autoscale for pool '${shownName(name)}'`
    const custom = meantAsPolicy(config)
    if (custom) checkCustomPolicy(config as ScalingPolicy, where)
    else createPolicy(config as AutoscalePoolConfig, {}, where)
    if (!isEnabled(config)) continue
    const budget = budgetOf(config)
    const budgetTakenBy = budget === undefined ? undefined : budgets.get(budget)
    if (budgetTakenBy !== undefined) refuseSharedBudget(where, budget as SharedBudget, `is given to pool '${shownName(budgetTakenBy)}' too`)
    if (budget !== undefined) budgets.set(budget, name)
    if (!custom) continue
    const policyTakenBy = policies.get(config as ScalingPolicy)
    if (policyTakenBy !== undefined) refuseSharedPolicy(where, config as ScalingPolicy, `is given to pool '${shownName(policyTakenBy)}' too`)
    policies.set(config as ScalingPolicy, name)
  }
  return new RegistryAutoscaler(registry, configs, attach)
}

function isPlainObject(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false
  const prototype = Object.getPrototypeOf(value) as unknown
  return prototype === Object.prototype || prototype === null
}

class RegistryAutoscaler implements Autoscaler {
  readonly #configs: Readonly<Record<string, AutoscalePoolConfig | ScalingPolicy>>
  readonly #options: AttachOptions
  readonly #running = new Map<string, PoolAutoscaler>()
  readonly #unsubscribe: () => void
  #stopped = false
  // While subscribing, the registry replays the pools it has: each is checked, none started (an autoscaler
  // resizes its pool as it starts), and a refusal is thrown to the caller with nothing changed.
  #replay: { prepared: PreparedAutoscaler[]; refused: unknown[] } | undefined = { prepared: [], refused: [] }

  constructor(registry: AutoscaledRegistry, configs: Readonly<Record<string, AutoscalePoolConfig | ScalingPolicy>>, options: AttachOptions) {
    this.#configs = configs
    this.#options = options
    this.#unsubscribe = registry.subscribe({
      added: (pool) => this.#add(pool),
      removed: (pool) => this.#remove(pool),
    })
    const { prepared, refused } = this.#replay ?? { prepared: [], refused: [] }
    this.#replay = undefined
    if (refused.length > 0) {
      this.stop()
      throw refused[0]
    }
    try {
      for (const each of prepared) this.#start(each)
    } catch (error) {
      // (A pool of another library whose metrics throw.) No autoscaler is left running without a handle.
      this.stop()
      throw error
    }
  }

  get pools(): readonly string[] {
    // A pool closed on its own (not through the registry) is not removed from it: its autoscaler stops at its
    // next sample, and the pool is not listed from its close on.
    const sized = (scaler: PoolAutoscaler): boolean => scaler.running && scaler.pool.state !== 'closing' && scaler.pool.state !== 'closed'
    return [...this.#running].filter(([, scaler]) => sized(scaler)).map(([name]) => name)
  }

  get(name: string): PoolAutoscaler | undefined {
    return this.#running.get(name)
  }

  stop(): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#unsubscribe()
    for (const scaler of this.#running.values()) scaler.stop()
    this.#running.clear()
  }

  [Symbol.dispose](): void {
    this.stop()
  }

  #add(pool: ManagedPool): void {
    if (this.#stopped || !Object.hasOwn(this.#configs, pool.name)) return
    const config = this.#configs[pool.name] as AutoscalePoolConfig | ScalingPolicy
    if (!isEnabled(config)) return
    const replay = this.#replay
    try {
      const prepared = prepareAutoscaler(pool, config, this.#options)
      if (replay === undefined) return this.#start(prepared)
      // (A budget or a policy two names of this call share was refused by `autoscale()` already.)
      replay.prepared.push(prepared)
    } catch (error) {
      if (replay !== undefined) replay.refused.push(error)
      else reportToUser(this.#options.onError ?? reportWarning, error, 'autoscale()', 'LIFEGUARD_AUTOSCALE_ON_ERROR_FAILED')
    }
  }

  #start(prepared: PreparedAutoscaler): void {
    const name = prepared.pool.name
    this.#running.get(name)?.stop()
    this.#running.set(name, prepared.start())
  }

  #remove(pool: ManagedPool): void {
    const scaler = this.#running.get(pool.name)
    if (scaler === undefined || scaler.pool !== pool) return
    scaler.stop()
    this.#running.delete(pool.name)
  }
}
