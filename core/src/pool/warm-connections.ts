import type { Clock } from '../clock.js'
import { PoolWarmupError } from '../errors.js'
import type { WarmupReport } from '../pool-contract.js'
import type { ConnectionOpener } from './connection-opener.js'
import type { IdleList } from './idle-list.js'
import type { WarmupPlan } from './pool-lifecycle.js'
import type { PooledConnection } from './pooled-connection.js'

/** What a warm-up needs of its pool. */
export interface WarmupHost<C> {
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
  /** Called when every attempt has settled. */
  settled(): void
}

/**
 * Warms a pool up: validates the idle connections it already has (up to the number asked), counts the ones
 * in use as warm, and opens and validates the rest, all in parallel; each one is handed on as soon as it passed. Resolves with
 * the counts once every attempt settled, within `timeoutMillis`: a connection's connect and validation
 * share that one deadline.
 *
 * @throws {PoolWarmupError} when none could open (cause: the first failure, redacted)
 */
export async function warmConnections<C>(host: WarmupHost<C>, { connections: requested, timeoutMillis }: WarmupPlan): Promise<WarmupReport> {
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
  host.settled()
  const opened = inUse + outcomes.filter((outcome) => outcome.status === 'fulfilled').length
  const firstError = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected')?.reason as unknown
  if (opened === 0) {
    const reason = firstError instanceof Error ? firstError.message.replace(/\.$/, '') : 'the pool had no room'
    throw new PoolWarmupError(host.name, host.target, `None of ${requested} connection(s) could be opened: ${reason}.`, { cause: firstError })
  }
  return { pool: host.name, requested, opened, failed: requested - opened, durationMillis: host.clock.now() - started }
}
