import { validateOptions } from '@lifeguard/core/adapter'
import { systemClock, type Clock } from '@lifeguard/core/adapter'
import type { PoolSample } from './scaling-policy.js'

/** Runs a parameterized SQL query, like `pg`'s `client.query(text, values)`. */
export type BudgetQuery = (text: string, values: unknown[]) => Promise<{ rows: readonly Record<string, unknown>[] }>

/** Anything with a `pg`-compatible `query(text, values)`: a `pg.Client`, a `pg.Pool`, a Lifeguard PostgreSQL pool. */
export interface QueryableClient {
  query(text: string, values: unknown[]): Promise<{ rows: readonly Record<string, unknown>[] }>
}

/** Options of `createSharedBudget()`. */
export interface SharedBudgetOptions {
  /** Connections the whole fleet may hold, e.g. `max_connections` minus a reserve for admin and other services. */
  total: number
  /** The `application_name` every instance of the service connects with. */
  applicationName: string
  /** How to count: a query function, or a client or pool with a `pg`-compatible `query()`. */
  query: BudgetQuery | QueryableClient
  /** Share of the free budget one instance may take per reading, in (0, 1] (default 0.5). */
  claimFraction?: number | undefined
  /** How often an autoscaler re-reads the count (default 1000 ms). */
  refreshMillis?: number | undefined
  /** A reading older than this stops growth until a fresh one arrives (default 5 x `refreshMillis`). */
  staleAfterMillis?: number | undefined
  /** Clock for reading ages (default: core's `systemClock`); only `now()` is read. */
  clock?: Pick<Clock, 'now'> | undefined
}

/** One reading of the server's count. */
export interface BudgetReading {
  /** Connections with the service's `application_name`, all instances together, as the server counts them. */
  held: number
  /** This pool's open connections when the count arrived (the server sees these). */
  own: number
  /** This pool's connections still being opened then (the server may not count them yet). */
  opening: number
  /** When the count arrived (clock time). */
  atMillis: number
  /** The highest `maxSize` this instance may use until the next reading. */
  limit: number
}

/** Inputs of `budgetLimit()`. */
export interface BudgetLimitInput {
  /** Connections the whole fleet may hold. */
  total: number
  /** The server's count for the service (all instances). */
  held: number
  /** This instance's open connections (included in `held`). */
  own: number
  /** This instance's connections being opened (not yet in `held`); default 0. */
  opening?: number | undefined
  /** Share of the free budget this instance may take, in (0, 1]. */
  claimFraction: number
}

/** This pool's connections as the budget needs them: `totalConnections` includes those being opened. */
export type OwnConnections = Pick<PoolSample, 'totalConnections' | 'activeConnections' | 'idleConnections'>

/** The SQL a budget runs: one count over `pg_stat_activity`, by `application_name`. */
export const BUDGET_QUERY = 'SELECT count(*)::int AS held FROM pg_stat_activity WHERE application_name = $1'

/**
 * The most connections one instance may have, given what the server reports for the whole fleet.
 * Within the budget an instance keeps what it holds and may take `claimFraction` of what is free
 * (so instances deciding at the same moment do not all take the same free connections); over it
 * (after a race, or when `total` was lowered) every instance gives back in proportion to what it holds,
 * which brings the fleet back to `total` in one round without starving anyone. Connections this
 * instance is still opening count as held, though the server may not list them yet.
 *
 * @example
 * budgetLimit({ total: 90, held: 70, own: 30, claimFraction: 0.5 }) // 40: 30 held + half of the 20 free
 * budgetLimit({ total: 90, held: 120, own: 60, claimFraction: 0.5 }) // 45: 60 x 90 / 120
 */
export function budgetLimit(input: BudgetLimitInput): number {
  const { total, claimFraction } = input
  const opening = Math.max(0, input.opening ?? 0)
  const own = Math.max(0, input.own) + opening
  const held = Math.max(own, input.held + opening)
  if (held > total) return Math.floor((own * total) / held)
  return own + Math.floor((total - held) * claimFraction)
}

const optionRules = {
  total: { type: 'integer', min: 1 },
  applicationName: { type: 'string', nonEmpty: true },
  query: { type: 'custom', expected: 'a query function or an object with a query() method', check: isQuery },
  claimFraction: { type: 'number', min: 0.01, max: 1, optional: true },
  refreshMillis: { type: 'duration', min: 10, optional: true },
  staleAfterMillis: { type: 'duration', min: 10, optional: true },
  clock: { type: 'custom', expected: 'a clock with now()', check: (v: unknown) => typeof (v as Clock | null)?.now === 'function', optional: true },
} as const

/**
 * A connection budget shared by every instance of a service, read from PostgreSQL itself: each
 * instance counts the connections its `application_name` holds in `pg_stat_activity` and never grows
 * past its share of `total`. No coordinator, no extra infrastructure. Give it to a policy config as
 * `budget`; the autoscaler refreshes it every `refreshMillis`.
 *
 * @example
 * const budget = new SharedBudget({ total: 90, applicationName: 'orders-api', query: pool })
 * await budget.refresh(() => pool.getPoolMetrics())
 * budget.limit(pool.getPoolMetrics().maxSize) // the highest maxSize allowed now
 */
export class SharedBudget {
  readonly total: number
  readonly applicationName: string
  readonly claimFraction: number
  readonly refreshMillis: number
  readonly staleAfterMillis: number
  readonly #query: BudgetQuery
  readonly #clock: Pick<Clock, 'now'>
  #reading: BudgetReading | undefined

  /** @throws {InvalidOptionError} naming the bad option */
  constructor(options: SharedBudgetOptions) {
    validateOptions('createSharedBudget', options, optionRules)
    this.total = options.total
    this.applicationName = options.applicationName
    this.claimFraction = options.claimFraction ?? 0.5
    this.refreshMillis = options.refreshMillis ?? 1000
    this.staleAfterMillis = options.staleAfterMillis ?? 5 * this.refreshMillis
    this.#clock = options.clock ?? systemClock
    const query = options.query
    this.#query = typeof query === 'function' ? query : (text, values) => query.query(text, values)
  }

  /** The last reading, if any. */
  get reading(): BudgetReading | undefined {
    return this.#reading
  }

  /**
   * Counts the fleet's connections on the server and stores the reading.
   *
   * @param own - this pool's connections, read when the count arrives (a `getPoolMetrics()` snapshot will do)
   * @throws whatever the query throws (the autoscaler reports it and keeps the last reading)
   */
  async refresh(own: () => OwnConnections): Promise<BudgetReading> {
    const result = await this.#query(BUDGET_QUERY, [this.applicationName])
    const held = Number(result.rows[0]?.['held'] ?? 0)
    if (!Number.isFinite(held)) throw new TypeError(`Could not read the connection budget of '${this.applicationName}'. The count was not a number.`)
    const connections = own()
    const open = connections.activeConnections + connections.idleConnections
    const opening = Math.max(0, connections.totalConnections - open)
    const reading: BudgetReading = {
      held,
      own: open,
      opening,
      atMillis: this.#clock.now(),
      limit: budgetLimit({ total: this.total, held, own: open, opening, claimFraction: this.claimFraction }),
    }
    this.#reading = reading
    return reading
  }

  /**
   * The highest `maxSize` allowed now for a pool of `size`: the last reading's limit, or `size` itself
   * (no growth, no forced shrink) while there is no fresh reading.
   */
  limit(size: number): number {
    const reading = this.#reading
    if (reading === undefined || this.#clock.now() - reading.atMillis > this.staleAfterMillis) return size
    return reading.limit
  }
}

/**
 * Creates a budget shared by every instance of a service.
 *
 * @throws {InvalidOptionError} naming the bad option
 * @example
 * const budget = createSharedBudget({ total: 90, applicationName: 'orders-api', query: ordersPool })
 * autoscale(registry, { pools: { orders: { policy: 'adaptive', minSize: 2, maxSize: 40, budget } } })
 */
export function createSharedBudget(options: SharedBudgetOptions): SharedBudget {
  return new SharedBudget(options)
}

function isQuery(value: unknown): boolean {
  return typeof value === 'function' || (typeof value === 'object' && value !== null && typeof (value as { query?: unknown }).query === 'function')
}
