// The ROLLBACK a handle sends for a transaction it gives back, and the bound that keeps a silent server from
// holding it.
import type { OperationContext } from '@lifeguard/core'
import { watchAbort, type PoolMonitor } from '@lifeguard/core/adapter'
import { afterCancel, closeIfUnanswered } from './cancel-request.js'
import { clientState, type PooledClient } from './pooled-client.js'
import { releaseArgumentFor, runStatement } from './run-query.js'

/**
 * The bound on one ROLLBACK: once started, a ROLLBACK still unanswered 2 s later closes its connection, and
 * the server rolls back on its own. Without it, a server gone silent (a partition, a stalled proxy) held
 * `transaction()` and its caller until TCP gave up. Not cancelled: a ROLLBACK is quick wherever the server
 * answers. Started when its operation aborts or has ended, or when the handle that sent it is disposed.
 */
export class RollbackBound {
  readonly #client: PooledClient
  #lift: (() => void) | undefined
  #answered = false
  // The bounds its operation's abort would start, while it is one of them (see `startOnAbort`).
  #pending: Set<RollbackBound> | undefined

  constructor(client: PooledClient) {
    this.#client = client
  }

  /** Starts the 2 s (once; nothing once the ROLLBACK was answered). */
  start(): void {
    if (!this.#answered) this.#lift ??= closeIfUnanswered(this.#client)
  }

  /** The ROLLBACK was answered (or failed): the bound is lifted. */
  lift(): void {
    this.#answered = true
    this.#lift?.()
    this.#pending?.delete(this)
    this.#pending = undefined
  }

  /** @internal Started by its operation's abort while in `pending` (see `startOnAbort`). */
  awaitAbortIn(pending: Set<RollbackBound>): void {
    if (this.#answered) return
    this.#pending = pending
    pending.add(this)
  }
}

// The bounds of each operation's ROLLBACKs under way, started by one abort watcher per operation: a watcher per
// ROLLBACK would stay with the operation for good (an operation keeps its watchers), and a long-lived one (a job
// looping over transactions that fail and are retried) gathered one for every ROLLBACK it ever sent, each holding
// its connection, and each scanned by every later watch.
const pendingByOperation = new WeakMap<OperationContext, Set<RollbackBound>>()

/**
 * Rolls back `client`'s transaction and gives it back. With `close`, it is closed after the rollback rather than
 * reused: a transaction whose operation aborted or ended under it had its callback's cleanup refused
 * (`finally { await tx.query('SELECT pg_advisory_unlock(...)') }`), and what a ROLLBACK leaves in the session
 * (session advisory locks, SQL `PREPARE`) would reach the next holder. The ROLLBACK is still sent: queued behind
 * a statement being cancelled, it waits for it with the cancel's resends and give-up, which a close now would cut.
 *
 * `operation`: the operation whose abort starts `bound`, or `'ended'` to start it now.
 */
export async function rollbackAndRelease(
  client: PooledClient,
  monitor: PoolMonitor,
  close: boolean,
  operation: OperationContext | 'ended' | undefined,
  bound = new RollbackBound(client),
): Promise<void> {
  const state = client[clientState]
  // A lost connection has nothing to roll back (the server already did): just close it. (A statement that
  // found it lost marked it broken: see `statementError`; so did the server refusing a statement with a row
  // limit, whose session would never take the ROLLBACK: see `watchRowLimitFailure`.)
  if (state.broken) return released(client, bound, state.failure ?? true)
  // A statement past query_timeout may still run, its cancel unanswered (a server gone silent): a ROLLBACK would
  // queue behind it for good. The connection is closed instead, as it would be anyway (see `ClientState.timedOut`),
  // and the server rolls back; `release()` reports why.
  if (state.timedOut) return released(client, bound)
  let failure: Error | undefined
  startOnAbort(bound, operation)
  try {
    // Sent after whatever runs now (cancelled, when the operation aborted or ended: see `cancelOnClient`).
    await runStatement(monitor, client, 'ROLLBACK', undefined, (error) => error)
  } catch (error) {
    // The connection cannot be trusted with an unknown transaction state: close it.
    failure = releaseArgumentFor(error) ?? (error as Error)
  } finally {
    bound.lift()
  }
  // Cancel requests still under way are delivered first: one must never reach the next holder's statement.
  const argument = await afterCancel(client, failure)
  client.release(close ? argument || true : argument)
}

// Gives `client` back with no ROLLBACK sent: nothing is left for `bound` to watch.
function released(client: PooledClient, bound: RollbackBound, argument?: Error | true): void {
  bound.lift()
  client.release(argument)
}

// Starts `bound` now when the operation has aborted or ended, else when it aborts: through the operation's own
// abort watch, not its signal (a signal made here would cost every such operation an AbortController). One
// watcher per operation, for the bounds not yet lifted (see `pendingByOperation`).
function startOnAbort(bound: RollbackBound, operation: OperationContext | 'ended' | undefined): void {
  if (operation === undefined) return
  if (operation === 'ended' || operation.aborted || operation.disposed) return bound.start()
  let pending = pendingByOperation.get(operation)
  if (pending === undefined) {
    const bounds = (pending = new Set<RollbackBound>())
    pendingByOperation.set(operation, bounds)
    watchAbort(operation, () => {
      for (const each of [...bounds]) each.start()
    })
  }
  bound.awaitAbortIn(pending)
}
