// One autoscaler per pool, one pool per budget: each claim is kept on the pool or the budget itself, so that
// two copies of this package (or two registries) see the same one, and nothing outlives the pool.
import { RegistrationError, type ManagedPool } from '@lifeguard/core'
import { rejectOption } from '@lifeguard/core/adapter'
import type { PoolAutoscaler } from '../pool-autoscaler.js'
import type { SharedBudget } from '../shared-budget.js'

const sizingAutoscaler = Symbol.for('lifeguard.autoscale.sizedBy')
const budgetUsedBy = Symbol.for('lifeguard.autoscale.budgetUsedBy')
type ClaimedPool = ManagedPool & { [sizingAutoscaler]?: PoolAutoscaler }
type ClaimedBudget = SharedBudget & { [budgetUsedBy]?: PoolAutoscaler }

/**
 * Refuses a second running autoscaler on `pool`, and a budget another pool's running autoscaler reads.
 *
 * @throws {RegistrationError} when an autoscaler sizes the pool already
 * @throws {InvalidOptionError} naming `budget`, when another pool's autoscaler reads it
 */
export function checkClaims(pool: ManagedPool, budget: SharedBudget | undefined, where: string): void {
  // Two autoscalers on one pool undo each other's resizes (measured: 28 in 1.5 s on an idle pool).
  if ((pool as ClaimedPool)[sizingAutoscaler]?.running === true) {
    throw new RegistrationError(`Pool '${pool.name}' is sized by an autoscaler already. Stop it (\`stop()\`) before attaching another.`)
  }
  // Each reading of a budget counts one pool's connections as its own: shared by two running autoscalers,
  // that pool would flip between them at every reading.
  const usedBy = (budget as ClaimedBudget | undefined)?.[budgetUsedBy]
  if (budget !== undefined && usedBy?.running === true && usedBy.pool !== pool) refuseSharedBudget(where, budget, `is in use by the autoscaler of pool '${usedBy.pool.name}'`)
}

/** @throws {InvalidOptionError} naming `budget`, which another pool's autoscaler reads (`sharedHow` says which) */
export function refuseSharedBudget(where: string, budget: SharedBudget, sharedHow: string): never {
  rejectOption(where, 'budget', `a SharedBudget of its own (this one ${sharedHow}: use one budget per pool)`, budget)
}

/** Records `autoscaler` as the one sizing its pool and reading `budget`. */
export function claim(autoscaler: PoolAutoscaler, budget: SharedBudget | undefined): void {
  Object.defineProperty(autoscaler.pool, sizingAutoscaler, { value: autoscaler, configurable: true, writable: true })
  if (budget !== undefined) Object.defineProperty(budget, budgetUsedBy, { value: autoscaler, configurable: true, writable: true })
}

/** `autoscaler` stopped: its pool may take another. (Its budget's claim lapses with `running`.) */
export function unclaim(autoscaler: PoolAutoscaler): void {
  const pool = autoscaler.pool as ClaimedPool
  if (pool[sizingAutoscaler] === autoscaler) delete pool[sizingAutoscaler]
}
