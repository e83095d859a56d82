// A pool's warm-up: opens and validates connections before it serves, within one time limit for the whole call.
import type { Clock } from '../clock.js'
import { PoolWarmupError } from '../errors.js'
import type { WarmupOptions, WarmupReport } from '../pool-contract.js'
import type { ConnectionOpener } from './connection-opener.js'
import { unlimitedConnectCheckMillis, type PoolEngineOptions } from './engine-options.js'
import type { IdleList } from './idle-list.js'
import type { OpenConnections } from './open-connections.js'
import type { PoolLifecycle, WarmupPlan } from './pool-lifecycle.js'
import type { PooledConnection } from './pooled-connection.js'

/** What a warm-up needs of its pool. */
interface WarmupHost<C> {
  readonly name: string
  readonly target: string
  readonly clock: Clock
  /** The option that set the warm-up's `timeoutMillis`, for its timeout messages. */
  readonly timeoutOption: string
  readonly idle: IdleList<C>
  readonly opener: ConnectionOpener<C>
  /** Connections the pool may still open without passing `maxSize`. */
  room(): number
  /** Connections checked out now that will stay (not evicted, not broken). */
  busy(): number
  /** A validated connection: to a waiter, or idle. */
  offer(lease: PooledConnection<C>): void
  /**
   * An attempt to open failed. Callers that came meanwhile waited for the warm-up's attempts as for any
   * other (none was opened for them): the pool treats the failure as its own attempt's.
   */
  openFailed(error: Error): void
  /** Called when every attempt has settled; `anyFailed`: one of them did (to open, or its check). */
  settled(anyFailed: boolean): void
}

/**
 * Warms a pool up: validates the idle connections it already has (up to the number asked), counts the ones
 * in use as warm, and opens and validates the rest, all in parallel; each one is handed on as soon as it passed. Resolves with
 * the counts once every attempt settled, within `timeoutMillis`: a connection's connect and validation
 * share that one deadline.
 *
 * @throws {PoolWarmupError} when none could open (cause: the first failure, redacted)
 */
async function warmConnections<C>(host: WarmupHost<C>, { connections: requested, timeoutMillis }: WarmupPlan): Promise<WarmupReport> {
  const started = host.clock.now()
  const deadline = started + timeoutMillis
  // At least 1: a limit of 0 would mean none at all.
  const timeLeft = () => Math.max(1, deadline - host.clock.now())
  const option = host.timeoutOption
  const connectTimedOut = `Connection attempt timed out after ${timeoutMillis}ms (${option}).`
  const validateTimedOut = `Validation timed out after ${timeoutMillis}ms (${option}).`
  const openAndValidateTimedOut = `Connection attempt and validation took longer than ${timeoutMillis}ms (${option}).`
  const attempts: Promise<void>[] = []
  const ready = (lease: PooledConnection<C>, resolve: () => void) => {
    host.offer(lease)
    resolve()
  }
  while (attempts.length < requested && host.idle.length > 0) {
    const lease = host.idle.pop() as PooledConnection<C>
    attempts.push(new Promise((resolve, reject) => host.opener.validate(lease, timeLeft(), (valid) => ready(valid, resolve), reject, validateTimedOut)))
  }
  // A connection that opened validates in what is left of the warm-up's time, not in a fresh timeoutMillis.
  const validateOpened = (lease: PooledConnection<C>, resolve: () => void, reject: (error: Error) => void) =>
    host.opener.validate(lease, timeLeft(), (valid) => ready(valid, resolve), reject, openAndValidateTimedOut)
  const openFailed = (reject: (error: Error) => void) => (error: Error) => {
    host.openFailed(error)
    reject(error)
  }
  // Connections in use are warm already: a pool busy to its size (a readiness check under load) is no failed
  // warm-up. (Not the ones `softEvict()` retires: a warm-up after it opens connections to the new server.)
  const inUse = Math.min(requested - attempts.length, host.busy())
  for (let i = Math.min(requested - attempts.length - inUse, host.room()); i > 0; i--) {
    attempts.push(new Promise((resolve, reject) => host.opener.open(timeLeft(), (lease) => validateOpened(lease, resolve, reject), openFailed(reject), connectTimedOut)))
  }
  const outcomes = await Promise.allSettled(attempts)
  host.settled(outcomes.some((outcome) => outcome.status === 'rejected'))
  const opened = inUse + outcomes.filter((outcome) => outcome.status === 'fulfilled').length
  const firstError = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')?.reason as unknown
  if (opened === 0) {
    const reason = firstError instanceof Error ? firstError.message.replace(/\.$/, '') : 'the pool had no room'
    throw new PoolWarmupError(host.name, host.target, `None of ${requested} connection(s) could be opened: ${reason}.`, { cause: firstError })
  }
  return { pool: host.name, requested, opened, failed: requested - opened, durationMillis: host.clock.now() - started }
}

/** The counts of its pool a warm-up reads (the `PoolEngine` itself). */
export interface WarmingPool {
  readonly minSize: number
  readonly maxSize: number
  readonly totalCount: number
  readonly waitingCount: number
}

/** The parts of its pool a warm-up works on. */
export interface WarmupParts<C> {
  readonly lifecycle: PoolLifecycle
  readonly idle: IdleList<C>
  readonly opener: ConnectionOpener<C>
  readonly connections: OpenConnections<C>
  /** Marks the pool in use, and takes back the parked connections it has room for (before any is opened). */
  start(): void
  /** Connections the pool may still open without passing `maxSize`. */
  room(): number
  /** A validated connection: to a waiter, or idle. */
  offer(lease: PooledConnection<C>): void
  /** The pool's answer to a failed connection attempt of its own. */
  createFailed(error: Error): void
  /** Opens what the pool lacks now: for its waiters, and up to `minSize`. */
  fill(): void
}

/**
 * The `warmup()` of a `PoolEngine`: its checks and states (by `PoolLifecycle`), its time limit (the call's,
 * else `connectTimeoutMillis`, else 10 s) and the option a timeout names, then `warmConnections` with the pool as host.
 */
export class PoolWarmup<C> {
  readonly #options: PoolEngineOptions<C>
  readonly #pool: WarmingPool
  readonly #parts: WarmupParts<C>

  constructor(options: PoolEngineOptions<C>, pool: WarmingPool, parts: WarmupParts<C>) {
    this.#options = options
    this.#pool = pool
    this.#parts = parts
  }

  /** Runs `PoolEngine.warmup(options)`. */
  warmup(options: WarmupOptions | undefined): Promise<WarmupReport> {
    const connectTimeout = this.#options.connectTimeoutMillis
    const bounds = { minSize: this.#pool.minSize, maxSize: this.#pool.maxSize, timeoutMillis: connectTimeout || unlimitedConnectCheckMillis }
    // A timeout names the option that set the warm-up's time limit.
    const timeoutOption =
      options?.timeoutMillis !== undefined ? 'timeoutMillis of warmup()' : connectTimeout > 0 ? (this.#options.connectTimeoutOption ?? 'connectTimeoutMillis') : "warmup()'s default"
    return this.#parts.lifecycle.warmup(options, bounds, (plan) => this.#run(plan, timeoutOption))
  }

  #run(plan: WarmupPlan, timeoutOption: string): Promise<WarmupReport> {
    const { lifecycle, opener, connections } = this.#parts
    const pool = this.#pool
    this.#parts.start()
    return warmConnections<C>(
      {
        name: this.#options.name,
        target: this.#options.target,
        clock: this.#options.monitor.clock,
        timeoutOption,
        idle: this.#parts.idle,
        opener,
        room: () => this.#parts.room(),
        busy: () => connections.busyStaying(),
        offer: (lease) => this.#parts.offer(lease),
        // A caller waiting gets the retry (or the permanent error) it would have had from its own attempt (a
        // held one, while suspended, keeps waiting: see attemptFailureHandler).
        openFailed: (error) => {
          if (pool.waitingCount > 0 || lifecycle.closing) this.#parts.createFailed(error)
        },
        // A pool in use keeps trying to reach minSize in the background: after a back-off when an attempt failed;
        // at once when the warm-up only asked for fewer (a back-off then would hold new waiters' connections, and
        // make a close read the server as down).
        settled: (anyFailed) => {
          if (pool.totalCount >= pool.minSize || lifecycle.closing) return
          if (anyFailed) opener.scheduleRetry()
          else this.#parts.fill()
        },
      },
      plan,
    )
  }
}
