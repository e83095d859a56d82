import { connect } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { LifeguardError } from '@lifeguard/core'
import type * as pg from 'pg'
import { clientState, type PooledClient, type ReleaseArgument } from './pooled-client.js'

// PostgreSQL's CancelRequest: length 16, the cancel code, then the backend's process id and secret key,
// sent on a connection of its own (the server answers nothing and closes it).
const cancelRequestCode = 80877102
// A server that does not take the request within this is left alone: closing the pool must not wait on it.
const cancelTimeoutMillis = 2000

// What is read of a pg.Client here: where it connected, its backend key, and (pg's own fields, so with a
// fallback) whether a statement is running or queued.
interface BackendKey {
  readonly host: string
  readonly port: number
  readonly processID: number | null
  readonly secretKey: number | null
  readonly connection?: { readonly stream?: { readonly remoteAddress?: string; readonly remotePort?: number; destroy?(error?: Error): void } }
  readonly _activeQuery?: unknown
  readonly _queryQueue?: readonly unknown[]
}

/**
 * Whether `client` may be running a statement: pg's own record of it, or true where this pg version keeps
 * none under those names (a cancel too many costs one short connection; one too few leaves the statement).
 */
export function mayBeRunning(client: pg.Client): boolean {
  const key = client as unknown as BackendKey
  if (!('_activeQuery' in key) || !Array.isArray(key._queryQueue)) return true
  return key._activeQuery != null || key._queryQueue.length > 0
}

// A statement sent a moment before may not have reached its backend when the first request lands, and that
// request then cancels nothing (seen on a loaded machine: the session stayed the statement's full length).
// So it is sent again a little later; a request for a session that has ended is ignored by the server.
const resendAfterMillis = [100, 500]

/**
 * Asks the server to stop what `client`'s session is running, now and twice again within 0.6 s (see
 * `requestCancel`). Never rejects.
 *
 * @example
 * await Promise.all([cancelRunning(client), client.end()])
 */
export async function cancelRunning(client: pg.Client): Promise<void> {
  await requestCancel(client)
  for (const wait of resendAfterMillis) {
    await delay(wait)
    await requestCancel(client)
  }
}

/**
 * Asks the server to stop what `client`'s session is running (see `mayBeRunning`). Closing a connection alone does not:
 * a backend busy with a statement, or waiting for a lock, reads the goodbye only when it is done, so its
 * session (and its locks) outlived the pool that gave it up. Never rejects; settles once the request was
 * sent, refused, or after 2 s.
 *
 * @example
 * await Promise.all([requestCancel(client), client.end()])
 */
export function requestCancel(client: pg.Client): Promise<void> {
  const { host, port, processID, secretKey, connection } = client as unknown as BackendKey
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return Promise.resolve()
  // The address it reached, as libpq cancels: a host name may resolve to several servers (a balanced pooler).
  const remote = connection?.stream
  return new Promise<void>((resolve) => {
    const socket =
      typeof remote?.remoteAddress === 'string' && typeof remote.remotePort === 'number'
        ? connect(remote.remotePort, remote.remoteAddress)
        : host.startsWith('/')
          ? connect(`${host}/.s.PGSQL.${port}`)
          : connect(port, host)
    const done = (): void => {
      socket.destroy()
      resolve()
    }
    socket.setTimeout(cancelTimeoutMillis, done)
    socket.once('error', done)
    socket.once('close', done)
    socket.once('connect', () => {
      const packet = Buffer.alloc(16)
      packet.writeInt32BE(16, 0)
      packet.writeInt32BE(cancelRequestCode, 4)
      packet.writeInt32BE(processID, 8)
      packet.writeInt32BE(secretKey, 12)
      // Written, not ended: the server (or pooler) closes the connection once it has acted, as libpq waits for.
      // Half-closed at once, PgBouncer 1.18 freed the request's slot before passing it on, then dropped another
      // client's login that took the slot, or exited on a failed assertion.
      // A proxy that never closes it holds each request to the 2 s timeout; servers and PgBouncer close at once.
      socket.write(packet)
    })
  })
}

/**
 * Cancels the statement `client` runs on a connection that stays in use (an operation aborted, or a
 * transaction's operation ended): a request now, sent again as `cancelRunning` does but only while `ended`
 * has not settled, so a late request cannot stop the session's next statement. Settles once every request
 * sent was delivered (or given up); never rejects. `ended` must never reject.
 */
export async function cancelStatement(client: pg.Client, ended: Promise<void>): Promise<void> {
  let over = false
  void ended.then(() => (over = true))
  await requestCancel(client)
  for (const wait of resendAfterMillis) {
    // Not ref'd: a timer left behind when the statement ended first must not hold the process.
    await Promise.race([ended, delay(wait, undefined, { ref: false })])
    if (over) return
    await requestCancel(client)
  }
}

/**
 * Sends a cancel request for what `client` runs now, unless one is under way. Whoever gives the client back
 * waits for it first (`releaseAfterCancel`): a request delivered while the session is idle is ignored by the
 * server, one delivered during the next holder's statement would stop that one.
 *
 * With `giveUp` (an operation that aborted or ended, which waits on the statement), a statement still unanswered
 * `unansweredCancelMillis` later is given up: its connection is closed, which fails it (and whatever was queued
 * behind it, a `ROLLBACK` say), so an operation's deadline bounds it even when the server is out of reach. Not
 * for `query_timeout`: pg has failed that statement already, and nothing would tell the timer it ended.
 */
export function cancelOnClient(client: PooledClient, giveUp = false): Promise<void> {
  const state = client[clientState]
  if (state.cancel === undefined) {
    const ended = new Promise<void>((resolve) => {
      state.statementEnded = () => {
        if (state.giveUp !== undefined) state.clock.clearTimeout(state.giveUp)
        state.giveUp = undefined
        resolve()
      }
    })
    state.cancel = cancelStatement(client, ended)
  }
  if (giveUp) giveUpUnanswered(client)
  return state.cancel
}

/**
 * Closes `client`'s connection if its statement is still unanswered `unansweredCancelMillis` from now (once per
 * statement): what an operation that aborted still waits on is bounded even when the server is out of reach.
 */
export function giveUpUnanswered(client: PooledClient): void {
  const state = client[clientState]
  // In the background: the statement's own socket keeps the process alive while it waits.
  state.giveUp ??= state.clock.setTimeout(() => abandonStatement(client), unansweredCancelMillis, true)
}

// As long as a cancel request itself is given: a server that answers takes a few milliseconds.
const unansweredCancelMillis = cancelTimeoutMillis

/**
 * Closes `client`'s connection if the statement it runs now is still unanswered `unansweredCancelMillis` from
 * now, unless the returned function is called first: for a statement that is not cancelled but must not be
 * waited for without end (a `ROLLBACK` after its operation aborted or ended). A timer of its own, not the
 * statement's `giveUp`, which the end of a statement queued before it would clear.
 */
export function closeIfUnanswered(client: PooledClient): () => void {
  const state = client[clientState]
  const timer = state.clock.setTimeout(() => abandonStatement(client), unansweredCancelMillis, true)
  return () => state.clock.clearTimeout(timer)
}

// TCP keepalive does not see a server that is gone behind something still acknowledging (a stalled proxy, a
// partition at a middlebox): without this, the statement would wait for good.
function abandonStatement(client: PooledClient): void {
  const state = client[clientState]
  if (state.broken) return
  const error = new LifeguardError('ERR_STATEMENT_UNANSWERED', `The server did not answer a statement within ${unansweredCancelMillis} ms of its operation's abort (a statement is cancelled then, a COMMIT or ROLLBACK only watched), so its connection was closed.`)
  state.failure ??= error
  state.broken = true
  ;(client as unknown as BackendKey).connection?.stream?.destroy?.(error)
}

/**
 * Notes how a statement on `client` ended: one cancelled by a cancel request (57014) while requests were out
 * shows that they landed (see `afterCancel`).
 */
export function noteStatementEnd(client: PooledClient, error: unknown): void {
  const state = client[clientState]
  if (state.cancel !== undefined && isCancelRequestError(error)) state.cancelLanded = true
}

// 57014 with the cancel request's own words: `statement_timeout` raises 57014 too ("due to statement
// timeout"). A server answering in another language reads as not landed, which closes the connection: the
// safe side.
function isCancelRequestError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown }
  return code === '57014' && message === 'canceling statement due to user request'
}

/**
 * Waits until the cancel requests sent for `client` were delivered, then returns what to release it with:
 * `argument`, or `true` (the connection closes) when no statement was seen cancelled. A server closes the
 * request's connection once it has acted, but a pooler or balancer may close it first and send the request
 * on later, when it would stop the next holder's statement; the session it targets is closed instead.
 */
export async function afterCancel(client: PooledClient, argument: ReleaseArgument): Promise<ReleaseArgument> {
  const state = client[clientState]
  if (state.cancel === undefined) return argument
  state.statementEnded?.()
  state.statementEnded = undefined
  // A connection that is gone takes no next statement a late request could stop: nothing to wait for (and a
  // request to a server out of reach takes up to 2 s each).
  if (state.broken) return argument || (state.failure ?? true)
  await state.cancel
  state.cancel = undefined
  const landed = state.cancelLanded
  state.cancelLanded = false
  // Not seen to land: the request could still reach the server and stop the next holder's statement, so the
  // connection is closed. The pool's choice, not a failure: no error is reported (an operation that aborts,
  // a client gone, does this often), and it disconnects as `released`.
  return argument || (landed ? argument : true)
}

/**
 * `client.release(argument)`, at once when no cancel request was sent for it (the usual case: no cost),
 * otherwise once they were delivered (see `afterCancel`).
 */
export function releaseAfterCancel(client: PooledClient, argument: ReleaseArgument): void {
  if (client[clientState].cancel === undefined) return client.release(argument)
  void afterCancel(client, argument).then((settled) => client.release(settled))
}
