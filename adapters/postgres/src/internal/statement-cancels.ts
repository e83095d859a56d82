// The statements of operations, cancelled on the server when their operation aborts.
import type { OperationContext } from '@lifeguard/core'
import { abortedByItsEnd, watchAbort } from '@lifeguard/core/adapter'
import { cancelOnClient, giveUpUnanswered } from './cancel-request.js'
import { activeStatement } from './end-client.js'
import { clientState, inTransaction, type PooledClient } from './pooled-client.js'
import { completedCommands } from './taken-statement.js'
import { statementsBeforeCommit } from './transaction-control.js'

// A statement whose operation aborted: cancelled on the server, and given up if it stays unanswered. A COMMIT
// is not cancelled (it must not be cut short), only given up: the caller then hears it may have committed.
function stop(client: PooledClient): void {
  if (runsCommit(client)) giveUpUnanswered(client)
  else void cancelOnClient(client, true)
}

// `transaction()`'s own COMMIT, or a statement of its callback that may commit (`COMMIT`, `END` or `PREPARE
// TRANSACTION`) once what comes before it in its text has completed: `INSERT INTO t SELECT ...; COMMIT` is cancelled
// while its INSERT runs (else the server would run it to its end and commit). The session is in a transaction (its
// status from before the statement; a lone query's session is idle). Its text is read only here, when an abort
// comes, not for every statement. (A COMMIT whose forerunners' answers are still on their way is cancelled: the
// server's answer then tells whether it took effect.)
export function runsCommit(client: PooledClient): boolean {
  if (client[clientState].committing) return true
  if (!inTransaction(client)) return false
  const statement = activeStatement(client)
  const before = statementsBeforeCommit(statement)
  return before >= 0 && statement !== undefined && completedCommands(statement).length >= before
}

/**
 * A pool's statements that are cancelled on the server when their operation aborts (client gone, deadline,
 * the caller's signal, `abort()`). Per statement it costs a set insertion and removal and a look through
 * the operation's few abort watchers, no allocation; per operation, the first statement makes the context
 * keep the watcher (an array) and, when it has a deadline or a caller's signal, link them (its signal and
 * deadline timer, as a waiting checkout already does).
 */
export class StatementCancels {
  readonly #running = new Set<PooledClient>()
  // Statements someone waits for (see `whenEnded`), and whom to tell once each has ended.
  readonly #awaited = new Map<PooledClient, (() => void)[]>()
  // Aborts are rare: a look through the running statements is cheaper than tracking them per operation.
  readonly #aborted = (context: OperationContext): void => {
    // Ended with a sibling checkout still waiting: that one is refused; what runs goes on (see `whenEnded`).
    if (abortedByItsEnd(context)) return
    for (const client of this.#running) if (client[clientState].watchedBy === context) stop(client)
  }

  /** A statement of `context` is about to be sent on `client`. */
  started(client: PooledClient, context: OperationContext): void {
    const state = client[clientState]
    state.watchedBy = context
    state.watched++
    this.#running.add(client)
    // One watcher per pool, kept by the context (as for the engine's waiting checkouts), not one per statement.
    watchAbort(context, this.#aborted)
    // Aborted between its checkout and now: no abort is left to come, so it is cancelled as it starts. Not a
    // statement sent while the operation is being disposed: that is its disposers' cleanup, which gets its
    // connection after an abort (see `refusedForAbort`) and must be let run.
    if (context.aborted && !abortedByItsEnd(context) && !context.disposed) stop(client)
  }

  /** That statement ended (answered, failed or cancelled). */
  ended(client: PooledClient): void {
    const state = client[clientState]
    state.statementEnded?.()
    state.statementEnded = undefined
    if (state.giveUp !== undefined) state.clock.clearTimeout(state.giveUp)
    state.giveUp = undefined
    if (--state.watched > 0) return
    state.watchedBy = undefined
    this.#running.delete(client)
    if (this.#awaited.size > 0) {
      for (const tell of this.#awaited.get(client) ?? []) tell()
      this.#awaited.delete(client)
    }
  }

  /**
   * Resolves once every statement of `context` running now has ended, but those on the clients in `except`
   * (a handle's transactions, which it ends itself); undefined when none runs (every request's disposal asks).
   * Not the queries still waiting for a connection: the operation's end stops their wait. A statement cancelled
   * by the operation's abort ends before its connection comes back (once the cancel request was delivered).
   */
  whenEnded(context: OperationContext, except: ReadonlyMap<PooledClient, unknown> | undefined): Promise<void> | undefined {
    if (this.#running.size === 0) return undefined
    let ending: Promise<void>[] | undefined
    for (const client of this.#running) {
      if (client[clientState].watchedBy !== context || except?.has(client) === true) continue
      ending ??= []
      const waiting = this.#awaited.get(client) ?? []
      this.#awaited.set(client, waiting)
      ending.push(new Promise<void>((resolve) => waiting.push(resolve)))
    }
    return ending === undefined ? undefined : Promise.all(ending).then(() => undefined)
  }
}
