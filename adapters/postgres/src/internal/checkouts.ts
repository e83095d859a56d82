import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { OperationAbortedError, OperationContext, PoolClosedError, PoolTimeoutError } from '@lifeguard/core'
import type pg from 'pg'
import { PostgresConnectError } from '../errors.js'
import type { QueryText, QueryValues } from '../query-types.js'
import { isPermanentConnectError } from './connect-failure.js'
import { connectWithin } from './connect-within.js'
import type { ConnectionTracker, PoolParts } from './connection-tracker.js'
import { queryAndRelease, sendQuery } from './run-query.js'
import { clientState, type ReleaseArgument, type TrackedClient } from './tracked-client.js'

/**
 * Who holds which connection: Lifeguard's admission queue in front of pg-pool's checkout, the
 * bookkeeping of every checkout (wait and use times, leak timers, events), and the release that
 * closes connections above a shrunk size and hands connections straight to waiting callers.
 */
export class Checkouts {
  /** Connections checked out now. */
  active = 0
  readonly #parts: PoolParts
  readonly #tracker: ConnectionTracker
  /** Idle clients already promised to a caller whose pg-pool checkout is in flight. */
  #idleClaims = 0
  /** Released clients handed straight to the callers the admission queue has just admitted. */
  readonly #handoff: TrackedClient[] = []
  #onAllReleased: (() => void) | undefined

  constructor(parts: PoolParts, tracker: ConnectionTracker) {
    this.#parts = parts
    this.#tracker = tracker
  }

  /** Checkouts still out, counting connections on their way to a waiter. */
  get pending(): number {
    return this.active + this.#handoff.length
  }

  /** Calls `resolve` once nothing is checked out. */
  onAllReleased(resolve: () => void): void {
    this.#onAllReleased = resolve
  }

  /** One query on a client checked out for it: the hot path of `query()` and of the handle. */
  query<R extends pg.QueryResultRow>(context: OperationContext | undefined, text: QueryText, values: QueryValues | undefined): Promise<pg.QueryResult<R>> {
    const { admission, pgPool, monitor } = this.#parts
    // With leak detection on, take the traced path (it records where the checkout was taken).
    if (this.#parts.closing || monitor.leakDetectionMillis > 0) return this.acquire(context).then((client) => queryAndRelease<R>(client, text, values))
    const started = performance.now()
    if (pgPool.idleCount > this.#idleClaims && admission.tryAcquire()) {
      // A free slot and an idle connection: one promise covers checkout, query and release.
      this.#idleClaims++
      return new Promise<pg.QueryResult<R>>((resolve, reject) => {
        pgPool.connect((error, client) => {
          this.#idleClaims--
          if (error !== undefined || client === undefined) return this.#failed(error, reject)
          sendQuery(this.#checkedOut(client as unknown as TrackedClient, started), text, values, resolve, reject)
        })
      })
    }
    if (admission.tryAcquire()) return this.#admitted(started, context, true).then((client) => queryAndRelease<R>(client, text, values))
    // Waiting: usually answered by a released connection handed over directly (see released()).
    return admission.acquire(waitSignal(context)).then(
      () => {
        const handed = this.#takeHandoff()
        if (handed !== undefined) return queryAndRelease<R>(this.#checkedOut(handed, started), text, values)
        return this.#admitted(started, context, true).then((client) => queryAndRelease<R>(client, text, values))
      },
      (error: unknown) => this.#waitFailed(error, started),
    )
  }

  /** Checks a client out for the caller (`connect()`, transactions). */
  acquire(context: OperationContext | undefined): Promise<TrackedClient> {
    if (this.#parts.closing) return Promise.reject(new PoolClosedError(this.#parts.name))
    if (this.#parts.monitor.leakDetectionMillis > 0) return this.#acquireTraced(context)
    const started = performance.now()
    if (!this.#parts.admission.tryAcquire()) return this.#waitForSlot(started, context, true)
    return this.#admitted(started, context, true)
  }

  /** A connection of its own for warm-up (not a checkout), failing fast on the first error. */
  open(deadline: number): Promise<TrackedClient> {
    let failure: Error | undefined
    return connectWithin({
      pgPool: this.#parts.pgPool,
      deadline,
      signal: undefined,
      failed: (error) => (failure = this.#parts.closing ? new PoolClosedError(this.#parts.name, 'warm up') : this.#tracker.connectFailed(error)),
      timedOut: () => new Error(`Connection attempt timed out (warm-up timeoutMillis).`, failure === undefined ? undefined : { cause: failure }),
      aborted: (reason) => new OperationAbortedError('warm up', { cause: reason }),
    })
  }

  /** `release()` on a client: bookkeeping, then back to pg-pool, closed, or handed to a waiter. */
  released(client: TrackedClient, argument: ReleaseArgument): void {
    const state = client[clientState]
    const checkout = state.checkout
    if (checkout === undefined) {
      // Not a Lifeguard checkout: pg-pool recycling an expired idle client, a warm-up connection, or a
      // second release (pg-pool throws for that). A client taken back by a forced close ignores it.
      if (!state.revoked) state.pgRelease?.(argument)
      return
    }
    state.checkout = undefined
    if (state.holder !== undefined) {
      state.holder.delete(client)
      state.holder = undefined
    }
    this.active--
    this.#parts.monitor.released(checkout)
    if (argument) {
      if (argument instanceof Error) this.#tracker.clientFailed(client, argument, 'connection')
      state.disconnectReason ??= argument instanceof Error ? 'error' : 'released'
    } else if (this.#parts.pgPool.totalCount > (this.#parts.pgPool.options.max ?? 0)) {
      // Shrunk while this one was busy: close it now rather than return it.
      state.disconnectReason ??= 'resize'
      argument = true
    } else if (this.#canHandOff(client)) {
      // Someone is waiting and this release admits them: give them this connection directly instead
      // of a round trip through pg-pool's idle list and its next-tick handover.
      this.#handoff.push(client)
      this.#parts.admission.release()
      return
    }
    state.pgRelease?.(argument)
    this.#parts.admission.release()
    if (this.pending === 0) this.#onAllReleased?.()
  }

  /** Takes `count` idle clients out through pg-pool's own checkout and closes them (reason 'resize'). */
  trimIdle(maxSize: number): void {
    const { pgPool } = this.#parts
    const count = Math.min(pgPool.idleCount - this.#idleClaims, pgPool.totalCount - maxSize)
    for (let i = 0; i < count; i++) {
      this.#idleClaims++
      pgPool.connect((error, client) => {
        this.#idleClaims--
        if (error !== undefined || client === undefined) return
        const tracked = client as unknown as TrackedClient
        tracked[clientState].disconnectReason = 'resize'
        tracked.release(true)
      })
    }
  }

  /** Close timed out with clients still checked out: take them back and close their connections. */
  revoke(): void {
    for (const client of this.#tracker.clients) {
      const state = client[clientState]
      const checkout = state.checkout
      if (checkout === undefined) continue
      state.checkout = undefined
      state.revoked = true
      state.holder?.delete(client)
      state.disconnectReason = 'closed'
      this.active--
      this.#parts.monitor.released(checkout)
      state.pgRelease?.(true)
    }
  }

  // With leak detection on, the checkout is recorded inside an async continuation of the caller's
  // `await`, so the stack captured for a leak report shows the caller's frames, not pg-pool's.
  async #acquireTraced(context: OperationContext | undefined): Promise<TrackedClient> {
    const started = performance.now()
    const client = await (this.#parts.admission.tryAcquire() ? this.#admitted(started, context, false) : this.#waitForSlot(started, context, false))
    return this.#checkedOut(client, started)
  }

  async #waitForSlot(started: number, context: OperationContext | undefined, record: boolean): Promise<TrackedClient> {
    try {
      await this.#parts.admission.acquire(waitSignal(context))
    } catch (error) {
      this.#waitFailed(error, started)
    }
    return this.#admitted(started, context, record)
  }

  #waitFailed(error: unknown, started: number): never {
    if (error instanceof PoolTimeoutError) this.#parts.monitor.timedOut(performance.now() - started, this.#parts.admission.waiting, error.cause)
    throw error
  }

  // A slot is ours; find a connection. `record` false: the caller records the checkout itself.
  #admitted(started: number, context: OperationContext | undefined, record: boolean): Promise<TrackedClient> {
    const handed = this.#takeHandoff()
    if (handed !== undefined) return Promise.resolve(record ? this.#checkedOut(handed, started) : handed)
    if (this.#parts.pgPool.idleCount > this.#idleClaims) return this.#takeIdle(started, record)
    return this.#connectNew(started, context, record)
  }

  // An idle client is there for the taking: pg-pool hands it over on the next tick, no timer needed.
  #takeIdle(started: number, record: boolean): Promise<TrackedClient> {
    this.#idleClaims++
    return new Promise<TrackedClient>((resolve, reject) => {
      this.#parts.pgPool.connect((error, client) => {
        this.#idleClaims--
        if (error !== undefined || client === undefined) return this.#failed(error, reject)
        const tracked = client as unknown as TrackedClient
        resolve(record ? this.#checkedOut(tracked, started) : tracked)
      })
    })
  }

  #connectNew(started: number, context: OperationContext | undefined, record: boolean): Promise<TrackedClient> {
    const { name, target, options, admission, monitor } = this.#parts
    return connectWithin({
      pgPool: this.#parts.pgPool,
      deadline: started + options.acquireTimeoutMillis,
      signal: waitSignal(context),
      failed: (error) => {
        if (this.#parts.closing) return new PoolClosedError(name)
        const safe = this.#tracker.connectFailed(error)
        return isPermanentConnectError(error) ? new PostgresConnectError(name, target, safe) : undefined
      },
      timedOut: () => {
        const cause = this.#tracker.lastConnectError
        const waiting = admission.waiting
        monitor.timedOut(performance.now() - started, waiting, cause)
        return new PoolTimeoutError(name, options.acquireTimeoutMillis, cause === undefined ? { waiting } : { cause, waiting })
      },
      aborted: (reason) => new OperationAbortedError(`acquire a connection from pool '${name}'`, { cause: reason }),
    }).then(
      (client) => (record ? this.#checkedOut(client, started) : client),
      (error: unknown) => {
        admission.release()
        throw error
      },
    )
  }

  #checkedOut(client: TrackedClient, started: number): TrackedClient {
    client[clientState].checkout = this.#parts.monitor.acquired(performance.now() - started)
    this.active++
    return client
  }

  #failed(error: Error | undefined, reject: (error: unknown) => void): void {
    this.#parts.admission.release()
    reject(error ?? new Error('pg-pool returned no client'))
  }

  #canHandOff(client: TrackedClient): boolean {
    const { admission, pgPool } = this.#parts
    // The release must admit a waiter (not so after a shrink), and the connection must be one pg-pool
    // would keep: healthy, not past its lifetime, no use count to keep (pg's maxUses).
    if (admission.waiting === 0 || admission.active > admission.limit) return false
    const driver = client as unknown as { _queryable?: boolean; _ending?: boolean }
    const state = client[clientState]
    return !state.failed && driver._queryable !== false && driver._ending !== true && performance.now() < state.expiresAt && pgPool.options.maxUses === Infinity
  }

  #takeHandoff(): TrackedClient | undefined {
    let client = this.#handoff.pop()
    // A connection that failed while changing hands goes back to pg-pool, which closes it.
    while (client !== undefined && client[clientState].failed) {
      client[clientState].pgRelease?.(new Error('Connection failed while changing hands.'))
      client = this.#handoff.pop()
    }
    return client
  }
}

// The signal a wait honours: the given operation's, else the current one's. Many waits of one
// operation are legitimate (Promise.all of queries on a full pool), so its listener cap is lifted.
function waitSignal(context: OperationContext | undefined): AbortSignal | undefined {
  const signal = (context ?? OperationContext.tryCurrent())?.signal
  if (signal !== undefined) setMaxListeners(0, signal)
  return signal
}
