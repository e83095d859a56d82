import { checkOption, controlQuery, MAX_TIMER_MILLIS, rejectOption, systemClock, validateOptions, type Clock, type ControlQuery, type OptionRule } from '@lifeguard/core/adapter'
import type { PoolSample } from './scaling-policy.js'

/** Runs a parameterized SQL query, like `pg`'s `client.query(text, values)`. */
export type BudgetQuery = (text: string, values: unknown[]) => Promise<{ rows: readonly Record<string, unknown>[] }>

/** Anything with a `pg`-compatible `query(text, values)`: a `pg.Client`, a `pg.Pool`, a Lifeguard PostgreSQL pool. */
export interface QueryableClient {
  /** Runs `text` with `values` and resolves with the result's `rows` (the budget runs `BUDGET_QUERY`). */
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
  /**
   * The most instances of the service that run at once (e.g. the deployment's maximum replica count).
   * Each instance then takes at most `ceil(free / maxInstances)` per reading, so instances that read at
   * the same moment pass `total` by at most one connection each: keep `maxInstances` connections between
   * `total` and what the server allows. Recommended for any fleet; not with `claimFraction`.
   */
  maxInstances?: number | undefined
  /** Share of the free budget one instance may take per reading, in (0, 1] (default 0.5; safe for two instances). Not with `maxInstances`. */
  claimFraction?: number | undefined
  /**
   * How often the autoscaler offers to read the count (default 250 ms). A pool that is short of
   * connections (requests waiting, pool at its size) reads at every offer while its last reading left
   * room, so that the small shares a fleet claims add up quickly.
   */
  refreshMillis?: number | undefined
  /**
   * How often a pool reads when it is short but the budget was full, or when it holds more than its
   * fair share (`total / maxInstances`) and may have to give back (default 4 x `refreshMillis`, at most half
   * a given `staleAfterMillis`). Other pools, which a reading would not change, read every `staleAfterMillis`.
   */
  steadyRefreshMillis?: number | undefined
  /**
   * A reading older than this stops growth until a fresh one arrives: at least 2 x `steadyRefreshMillis` (and
   * so 2 x `refreshMillis`; default 5 x `steadyRefreshMillis`, capped at the longest timer).
   */
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
  /** Connections left in the budget: `total` less `held` and `opening` (negative when over). */
  free: number
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
  /** Share of the free budget this instance may take, in (0, 1]; ignored when `maxInstances` is given. */
  claimFraction?: number | undefined
  /** The most instances at once: this instance takes at most `ceil(free / maxInstances)`. */
  maxInstances?: number | undefined
}

/**
 * This pool's connections as the budget needs them: `totalConnections` includes those being opened, and
 * `parkedConnections` (kept open by a shrink for reuse) are this pool's too.
 * With `waitingRequests` and `maxSize` too (a `getPoolMetrics()` snapshot has them), the budget reads
 * the count only when a reading could change the pool's size; without them, at every `refresh()`.
 */
export type OwnConnections = Pick<PoolSample, 'totalConnections' | 'activeConnections' | 'idleConnections'> & Partial<Pick<PoolSample, 'waitingRequests' | 'maxSize' | 'parkedConnections'>>

/**
 * The SQL a budget runs: one count of the server's backends, by `application_name`. It reads
 * `pg_stat_get_activity(NULL)`, the function behind the `pg_stat_activity` view, because planning the
 * view's joins (to `pg_database` and `pg_authid`) made each count cost about four times the server CPU.
 */
export const BUDGET_QUERY = 'SELECT count(*)::int AS held FROM pg_stat_get_activity(NULL) WHERE application_name = $1'

/**
 * The most connections one instance may have, given what the server reports for the whole fleet.
 * Within the budget an instance keeps what it holds and may take a share of what is free: with
 * `maxInstances`, `ceil(free / maxInstances)`, so that instances deciding at the same moment take the
 * free connections once (plus at most one each, from rounding up); else `claimFraction` of it (the
 * default half suits two instances). Over the budget (after a race, or when `total` was lowered) every
 * instance gives back in proportion to what it holds, which brings the fleet back to `total` in one
 * round without starving anyone. Connections this instance is still opening count as held, though the
 * server may not list them yet.
 *
 * @example
 * budgetLimit({ total: 90, held: 70, own: 30, claimFraction: 0.5 }) // 40: 30 held + half of the 20 free
 * budgetLimit({ total: 90, held: 70, own: 30, maxInstances: 8 }) // 33: 30 held + ceil(20 / 8)
 * budgetLimit({ total: 90, held: 120, own: 60, claimFraction: 0.5 }) // 45: 60 x 90 / 120
 * @throws {InvalidOptionError} naming an input that is missing, not an integer, or out of range
 */
export function budgetLimit(input: BudgetLimitInput): number {
  // Each input checked by itself, not the object: `budgetLimit({ ...reading, total })` carries other keys.
  checkOption('budgetLimit', 'input', input, { type: 'object' })
  for (const [key, rule] of Object.entries(limitInputRules)) checkOption('budgetLimit', key, (input as unknown as Record<string, unknown>)[key], rule)
  const { total, maxInstances } = input
  const opening = input.opening ?? 0
  const own = input.own + opening
  const held = Math.max(own, input.held + opening)
  if (held > total) return Math.floor((own * total) / held)
  const free = total - held
  const share = maxInstances === undefined ? Math.floor(free * (input.claimFraction ?? defaultClaimFraction)) : Math.ceil(free / maxInstances)
  return own + share
}

const defaultClaimFraction = 0.5

const limitInputRules = {
  total: { type: 'integer', min: 1 },
  held: { type: 'integer', min: 0 },
  own: { type: 'integer', min: 0 },
  opening: { type: 'integer', min: 0, optional: true },
  claimFraction: { type: 'number', min: 0.01, max: 1, optional: true },
  maxInstances: { type: 'integer', min: 1, optional: true },
} as const satisfies Record<string, OptionRule>

const optionRules = {
  total: { type: 'integer', min: 1 },
  // Compared with `=` to what the server keeps: it cuts a name at 63 bytes and replaces every character outside
  // printable ASCII, so any other name would count nothing, and hold the pool at its size for good.
  applicationName: {
    type: 'custom',
    expected: 'a non-empty application_name as PostgreSQL keeps it: at most 63 printable ASCII characters',
    check: (v: unknown) => typeof v === 'string' && /^[\x20-\x7e]{1,63}$/.test(v),
  },
  query: { type: 'custom', expected: 'a query function or an object with a query() method', check: isQuery },
  maxInstances: { type: 'integer', min: 1, optional: true },
  claimFraction: { type: 'number', min: 0.01, max: 1, optional: true },
  refreshMillis: { type: 'duration', min: 10, optional: true },
  steadyRefreshMillis: { type: 'duration', min: 10, optional: true },
  staleAfterMillis: { type: 'duration', min: 10, optional: true },
  clock: { type: 'custom', expected: 'a clock with now()', check: (v: unknown) => typeof (v as Clock | null)?.now === 'function', optional: true },
} as const

/**
 * A connection budget shared by every instance of a service, read from PostgreSQL itself: each
 * instance counts the connections its `application_name` holds in `pg_stat_activity` and never grows
 * past its share of `total`. No coordinator, no extra infrastructure. Give it to a policy config as
 * `budget`; the autoscaler offers it a reading every `refreshMillis`, and it reads when that could change
 * the pool's size: often while the pool is short and the budget has room, now and then otherwise.
 *
 * @example
 * const budget = new SharedBudget({ total: 90, applicationName: 'orders-api', query: pool })
 * await budget.refresh(() => pool.getPoolMetrics())
 * budget.limit(pool.getPoolMetrics().maxSize) // the highest maxSize allowed now
 */
export class SharedBudget {
  /** Connections the whole fleet may hold. */
  readonly total: number
  /** The `application_name` whose connections are counted. */
  readonly applicationName: string
  /** The most instances at once, when given: each takes at most `ceil(free / maxInstances)` per reading. */
  readonly maxInstances: number | undefined
  /** Share of the free budget taken per reading when `maxInstances` is not given. */
  readonly claimFraction: number
  /** How often the autoscaler offers a reading: the fastest this budget reads. */
  readonly refreshMillis: number
  /** How often a short pool in a full fleet, or one above its fair share, reads. */
  readonly steadyRefreshMillis: number
  /** A reading older than this allows no growth; pools a reading would not change read this often. */
  readonly staleAfterMillis: number
  readonly #query: BudgetQuery
  // The client or pool given as `query`, if one was, unless it serves the count ahead of its waiting callers:
  // an autoscaler refuses a budget that would wait in line in the very pool it sizes.
  readonly #queuedBehind: object | undefined
  readonly #clock: Pick<Clock, 'now'>
  // Counts asked for, and which of them the reading kept answered.
  #asked = 0
  #answered = 0
  // Readings in a row that counted fewer connections than this pool holds (see `#checkCount`).
  #undercounts = 0
  #reading: BudgetReading | undefined

  /** @throws {InvalidOptionError} naming the bad option */
  constructor(options: SharedBudgetOptions) {
    validateOptions('createSharedBudget', options, optionRules)
    if (options.maxInstances !== undefined && options.claimFraction !== undefined) {
      rejectOption('createSharedBudget', 'claimFraction', 'left out when `maxInstances` is given (that sets the share)', options.claimFraction)
    }
    this.total = options.total
    this.applicationName = options.applicationName
    this.maxInstances = options.maxInstances
    this.claimFraction = options.claimFraction ?? (options.maxInstances === undefined ? defaultClaimFraction : 1 / options.maxInstances)
    this.refreshMillis = options.refreshMillis ?? 250
    if (options.steadyRefreshMillis !== undefined && options.steadyRefreshMillis < this.refreshMillis) {
      rejectOption('createSharedBudget', 'steadyRefreshMillis', `a duration >= \`refreshMillis\` (${this.refreshMillis})`, options.steadyRefreshMillis)
    }
    // A reading must outlive the wait for the next one (the interval, the query, a late timer), or every pool
    // stops growing between two readings.
    const stale = options.staleAfterMillis
    if (stale !== undefined && stale < 2 * this.refreshMillis) {
      rejectOption('createSharedBudget', 'staleAfterMillis', `a duration >= 2 x \`refreshMillis\` (${2 * this.refreshMillis})`, stale)
    }
    // Defaults derived from a long refreshMillis stay within what a timer can wait for, and leave a given
    // staleAfterMillis room for two steady refreshes.
    this.steadyRefreshMillis = options.steadyRefreshMillis ?? Math.min(4 * this.refreshMillis, MAX_TIMER_MILLIS, stale === undefined ? Infinity : Math.floor(stale / 2))
    // The same holds between steady refreshes: a pool that must give back would read a stale share, its own
    // size, for part of every cycle.
    if (stale !== undefined && stale < 2 * this.steadyRefreshMillis) {
      rejectOption('createSharedBudget', 'staleAfterMillis', `a duration >= 2 x \`steadyRefreshMillis\` (${2 * this.steadyRefreshMillis})`, stale)
    }
    this.staleAfterMillis = stale ?? Math.min(5 * this.steadyRefreshMillis, MAX_TIMER_MILLIS)
    this.#clock = options.clock ?? systemClock
    const query = options.query
    const first = typeof query === 'function' ? undefined : (query as { [controlQuery]?: ControlQuery })[controlQuery]
    if (typeof query === 'function') this.#query = query
    // A Lifeguard pool runs the count on its next free connection, ahead of the requests waiting for one.
    else if (typeof first === 'function') this.#query = (text, values) => first.call(query, text, values)
    else this.#query = (text, values) => query.query(text, values)
    this.#queuedBehind = typeof query === 'function' || typeof first === 'function' ? undefined : query
  }

  /** @internal Whether the count would wait in line behind the callers of this pool. */
  countsBehindCallersOf(pool: object): boolean {
    return this.#queuedBehind === pool
  }

  /** The last reading, if any. */
  get reading(): BudgetReading | undefined {
    return this.#reading
  }

  /**
   * Counts the fleet's connections on the server and stores the reading, when one is due: at once for
   * the first, then at intervals that depend on what a reading could change (see `refreshMillis` and
   * `steadyRefreshMillis`). A snapshot without `waitingRequests` and `maxSize` always reads.
   *
   * @param own - this pool's connections, read before and when the count arrives (a `getPoolMetrics()` snapshot will do)
   * @returns the new reading, or the last one when none was due
   * @throws whatever the query throws (the autoscaler reports it and keeps the last reading); and, with the
   *   new reading stored, a count below this pool's own open connections a second time in a row (see below)
   */
  async refresh(own: () => OwnConnections): Promise<BudgetReading> {
    const last = this.#reading
    const before = own()
    if (last !== undefined && !this.#due(before, last)) return last
    const asked = ++this.#asked
    const result = await this.#query(BUDGET_QUERY, [this.applicationName])
    // A count that answers after a later one (it hung, and was asked again meanwhile) is older than the reading
    // kept: it is dropped, not taken for fresh.
    if (asked < this.#answered && this.#reading !== undefined) return this.#reading
    // (No row or no `held` column is a query that counts something else, not a count of none.)
    const counted: unknown = result.rows[0]?.['held']
    const held = counted === undefined || counted === null ? Number.NaN : Number(counted)
    if (!Number.isInteger(held) || held < 0) throw new TypeError(`Could not read the connection budget of '${this.applicationName}'. The count's first row had no \`held\` that is a whole number >= 0.`)
    const connections = own()
    const inPool = connections.activeConnections + connections.idleConnections
    const opening = Math.max(0, connections.totalConnections - inPool)
    // (A connection that finished opening while the count ran is in the pool but may not be in the count.)
    const undercounted = this.#checkCount(held, Math.min(inPool, before.activeConnections + before.idleConnections))
    // Parked connections are this pool's, and a grow within the limit takes them back before opening
    // any; over the budget they are the first to go back, so the limit leaves them out.
    const parked = held + opening > this.total ? 0 : (connections.parkedConnections ?? 0)
    const open = inPool + parked
    const reading: BudgetReading = {
      held,
      own: open,
      opening,
      free: this.total - Math.max(open + opening, held + opening),
      atMillis: this.#clock.now(),
      limit: budgetLimit({ total: this.total, held, own: open, opening, claimFraction: this.claimFraction, maxInstances: this.maxInstances }),
    }
    // A count that misses this pool's own connections cannot bound the fleet: the pool keeps its size (no
    // growth, and no shrink the count did not justify).
    if (undercounted !== undefined) reading.limit = Math.min(reading.limit, Math.max(open + opening, connections.maxSize ?? 0))
    this.#reading = reading
    this.#answered = asked
    if (undercounted?.report !== undefined) throw undercounted.report
    return reading
  }

  // The server lists every connection this pool holds open under the budget's name (the count's own too,
  // when it runs through the pool). Fewer means the pool connects under another `application_name` (or the
  // server lost connections the pool has not noticed yet): the fleet's count would leave this pool out, and
  // every instance could grow to the whole total. Such a reading holds the pool at its size; once is not
  // reported, from the second in a row on each one is (the autoscaler reports a repeated failure every 10 s).
  #checkCount(held: number, inPool: number): { report: Error | undefined } | undefined {
    if (held >= inPool) {
      this.#undercounts = 0
      return undefined
    }
    this.#undercounts++
    if (this.#undercounts < 2) return { report: undefined }
    const error = new Error(
      `The shared budget '${this.applicationName}' counted ${held} connection(s) on the server under that application_name, fewer than the ${inPool} this pool holds open. The pool probably connects with another application_name; it is held at its size until the counts agree.`,
    )
    return { report: error }
  }

  /**
   * The highest `maxSize` allowed now for a pool of `size`: the last reading's limit, or `size` itself
   * (no growth, no forced shrink) while there is no fresh reading.
   *
   * @throws {InvalidOptionError} for a `size` that is not an integer >= 0
   */
  limit(size: number): number {
    checkOption('SharedBudget.limit', 'size', size, { type: 'integer', min: 0 })
    const reading = this.#reading
    if (reading === undefined || this.#clock.now() - reading.atMillis > this.staleAfterMillis) return size
    return reading.limit
  }

  // Whether a reading could change this pool's size now. Each pool takes only a small share per reading,
  // so one that is short reads often while there is room; one holding more than its fair share reads
  // regularly in case the fleet went over and it must give back. The rest read only now and then: when
  // one becomes short, its next offer is due at once.
  #due(connections: OwnConnections, last: BudgetReading): boolean {
    const { waitingRequests, maxSize } = connections
    if (waitingRequests === undefined || maxSize === undefined) return true
    const short = waitingRequests > 0 && connections.totalConnections >= maxSize
    const fairShare = this.maxInstances === undefined ? this.total * this.claimFraction : this.total / this.maxInstances
    let interval = this.staleAfterMillis
    if (short && last.free > 0) interval = this.refreshMillis
    else if (short || connections.totalConnections + (connections.parkedConnections ?? 0) > fairShare) interval = this.steadyRefreshMillis
    // Offers come every refreshMillis, a little early or late: half an offer early counts as due.
    return this.#clock.now() - last.atMillis >= interval - this.refreshMillis / 2
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
