// One autoscaler per pool, one pool per budget and per policy object: each claim is kept where two copies of
// this package (or two registries) see the same one, and nothing outlives the pool: on the pool itself, and for
// budgets and policies in one map per process.
import { RegistrationError, type ManagedPool } from '@lifeguard/core'
import { rejectOption } from '@lifeguard/core/adapter'
import type { PoolAutoscaler } from '../pool-autoscaler.js'
import type { ScalingPolicy } from '../scaling-policy.js'
import type { SharedBudget } from '../shared-budget.js'

const sizingAutoscaler = Symbol.for('lifeguard.autoscale.sizedBy')
// Policies and budgets are the user's objects, possibly frozen (a claim that failed to be written after the
// autoscaler started would leave it running with no handle): their claims live in one map per process, shared
// by every copy of this package through the global symbol registry. (Pools that are not extensible are refused.)
const policyClaims = processWideClaims('lifeguard.autoscale.policyClaims')
const budgetClaims = processWideClaims('lifeguard.autoscale.budgetClaims')
type ClaimedPool = ManagedPool & { [sizingAutoscaler]?: PoolAutoscaler }

function processWideClaims(key: string): WeakMap<object, PoolAutoscaler> {
  const store = globalThis as Record<symbol, unknown>
  const symbol = Symbol.for(key)
  return (store[symbol] as WeakMap<object, PoolAutoscaler> | undefined) ?? (store[symbol] = new WeakMap<object, PoolAutoscaler>()) as WeakMap<object, PoolAutoscaler>
}

/**
 * Refuses a second running autoscaler on `pool`, and a budget or a policy object another pool's running
 * autoscaler uses.
 *
 * @throws {RegistrationError} when an autoscaler sizes the pool already
 * @throws {InvalidOptionError} naming `budget` or `policy`, when another pool's autoscaler uses it
 */
export function checkClaims(pool: ManagedPool, budget: SharedBudget | undefined, policy: ScalingPolicy, where: string): void {
  // Two autoscalers on one pool undo each other's resizes (measured: 28 in 1.5 s on an idle pool).
  if ((pool as ClaimedPool)[sizingAutoscaler]?.running === true) {
    throw new RegistrationError(`Pool '${pool.name}' is sized by an autoscaler already. Stop it (\`stop()\`) before attaching another.`)
  }
  // Each reading of a budget counts one pool's connections as its own: shared by two running autoscalers,
  // that pool would flip between them at every reading.
  const usedBy = budget === undefined ? undefined : budgetClaims.get(budget)
  if (budget !== undefined && usedBy?.running === true && usedBy.pool !== pool) refuseSharedBudget(where, budget, `is in use by the autoscaler of pool '${usedBy.pool.name}'`)
  // A policy keeps one pool's windows: fed the samples of two, it diffs one pool's counters against the other's.
  const sizing = policyClaims.get(policy)
  if (sizing?.running === true && sizing.pool !== pool) refuseSharedPolicy(where, policy, `sizes pool '${sizing.pool.name}'`)
}

/** @throws {InvalidOptionError} naming `policy`, which another pool's autoscaler uses (`sharedHow` says which) */
export function refuseSharedPolicy(where: string, policy: ScalingPolicy, sharedHow: string): never {
  rejectOption(where, 'policy', `a policy object of its own, or a config (this one ${sharedHow}: a policy keeps one pool's measurements)`, policy)
}

/** @throws {InvalidOptionError} naming `budget`, which another pool's autoscaler reads (`sharedHow` says which) */
export function refuseSharedBudget(where: string, budget: SharedBudget, sharedHow: string): never {
  rejectOption(where, 'budget', `a SharedBudget of its own (this one ${sharedHow}: use one budget per pool)`, budget)
}

/** Records `autoscaler` as the one sizing its pool, reading `budget` and feeding its policy. */
export function claim(autoscaler: PoolAutoscaler, budget: SharedBudget | undefined): void {
  Object.defineProperty(autoscaler.pool, sizingAutoscaler, { value: autoscaler, configurable: true, writable: true })
  if (budget !== undefined) budgetClaims.set(budget, autoscaler)
  policyClaims.set(autoscaler.policy, autoscaler)
}

/** `autoscaler` stopped: its pool, budget and policy may be taken by another, and keep no reference to it. */
export function unclaim(autoscaler: PoolAutoscaler): void {
  const pool = autoscaler.pool as ClaimedPool
  if (pool[sizingAutoscaler] === autoscaler) delete pool[sizingAutoscaler]
  // A budget or a policy kept for the next pool of that name must not hold this one (and its driver) meanwhile.
  const budget = autoscaler.budget
  if (budget !== undefined && budgetClaims.get(budget) === autoscaler) budgetClaims.delete(budget)
  if (policyClaims.get(autoscaler.policy) === autoscaler) policyClaims.delete(autoscaler.policy)
}
