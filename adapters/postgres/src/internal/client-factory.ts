import type { Clock, ConnectionFactory, CreateAttempt } from '@lifeguard/core/adapter'
import { cancelRunning, mayBeRunning, requestCancel } from './cancel-request.js'
import { isPermanentConnectError } from './connect-failure.js'
import { abortable, connectorFor } from './connect-server.js'
import { endClient, endGraceMillis, hasStatements } from './end-client.js'
import { guardClient, type SessionGuard } from './pgbouncer-guard.js'
import { clientState, newClientState, type PooledClient, type ReleaseArgument } from './pooled-client.js'
import { watchReadOnly } from './read-only-server.js'
import { watchSessionEnd } from './session-end.js'
import { readSessionRole, roleMatches } from './session-target.js'
import { watchRowLimitFailure } from './row-limit-failure.js'
import type { PgPoolSettings } from './settings.js'

// pg.Client's ref()/unref() (on its socket), missing from @types/pg.
interface Referable {
  ref(): void
  unref(): void
}

/** What the pool wants to hear about its clients beyond what the engine tracks (the `pg.Pool` face's events). */
export interface ClientHooks {
  /** A new client is connected (after `onConnect` and `verify`). */
  connected?(client: PooledClient): void
  /** A client's connection failed while it sat idle. */
  idleError?(error: Error, client: PooledClient): void
  /** A client was closed and removed. */
  removed?(client: PooledClient): void
}

/** What the pool core adds to every client it opens. */
export interface ClientExtras {
  /** The client's `release()` (bound once per client, not per checkout). */
  release(client: PooledClient, argument?: Error | boolean): void
  /** Wraps a connect error waiting will not fix (a wrong password) for the waiters. */
  makePermanent(error: Error): Error
  /** Behind PgBouncer in transaction mode: refuses session features on every statement. */
  guard: SessionGuard | undefined
  /** In a pool that wants a writable server: the client's server refused a write as read-only. */
  readOnlyRefused: ((client: PooledClient) => void) | undefined
  clock: Clock
}

/**
 * The pool engine's factory over `pg.Client` (the application's own `pg`, or the `Client` class it
 * gives): connect (to the server whose session fits `targetSessionAttrs`, when several are given), run
 * the `onConnect` and `verify` hooks, watch the socket, validate (`SELECT 1`, or the session check when
 * a target is set), close. Every error a client emits is caught here, so a dropped connection never
 * crashes the process.
 */
export function clientFactory(settings: PgPoolSettings, hooks: ClientHooks, extras: ClientExtras): ConnectionFactory<PooledClient> {
  const { onConnect, verify, allowExitOnIdle, targetSessionAttrs: target } = settings
  const { release, guard, readOnlyRefused } = extras
  const connect = connectorFor(settings, extras.clock)
  const passwordFromFunction = typeof settings.clientConfig.password === 'function'
  // With a target, a connection that sat idle is asked again: its server may have changed role.
  const validate =
    target === 'any' ? (client: PooledClient) => client.query('SELECT 1').then(() => true) : (client: PooledClient) => readSessionRole(client).then((role) => roleMatches(target, role, true))
  const factory: ConnectionFactory<PooledClient> = {
    async create(attempt: CreateAttempt<PooledClient>): Promise<PooledClient> {
      const opened = await connect(attempt.signal)
      const client = opened.client as PooledClient
      const state = newClientState(attempt.lease, extras.clock)
      client[clientState] = state
      // Always listening: pg emits 'error' on a client whose socket fails, idle or not.
      client.on('error', (error: Error) => {
        state.failure ??= error
        state.broken = true
        const wasIdle = attempt.lease.state === 'idle' || attempt.lease.state === 'parked'
        // Out of the pool, and its error counted, before the drop-in's 'error' listeners run (pg-pool removes
        // the client first too): a listener reading the counts, or querying the pool, sees it gone.
        attempt.broken(error)
        if (wasIdle) hooks.idleError?.(error, client)
      })
      client.on('end', () => {
        state.broken = true
        attempt.broken(state.failure ?? new Error('The connection ended.'))
      })
      // A FATAL answer (57P01 when an administrator or a restart ends the session) comes a read before the
      // socket's end: marked ahead of pg's own handler, so a holder that gives the client back as soon as its
      // statement rejects does not hand the dead session to the next caller. (On an idle client, pg emits it
      // as 'error' at once, handled above.)
      watchSessionEnd(client, (error) => {
        if (attempt.lease.state !== 'busy') return
        state.failure ??= error
        state.broken = true
        attempt.broken(error)
      })
      // pg sends no Sync after the server refused a statement with a row limit: ended at once rather than left
      // to wait for good.
      state.rowLimitWatched = watchRowLimitFailure(client, (error) => attempt.broken(error))
      const early = opened.detach()
      if (early !== undefined) {
        void endClient(client, extras.clock)
        throw early
      }
      // Set before the hooks run: pg hands `verify` a client that can already be released.
      client.release = state.ownRelease = (argument?: ReleaseArgument) => release(client, argument)
      if (guard !== undefined) guardClient(client, guard)
      if (readOnlyRefused !== undefined) watchReadOnly(client, readOnlyRefused)
      if (onConnect !== undefined || verify !== undefined) {
        await abortable(attempt.signal, client, async () => {
          if (onConnect !== undefined) await onConnect(client)
          if (verify !== undefined) await new Promise<void>((resolve, reject) => verify(client, (error) => (error ? reject(error) : resolve())))
        })
      }
      hooks.connected?.(client)
      // pg's documented `pool.on('connect', (client) => client.query('SET ...'))`: nobody waits for that
      // statement, so a connection opened for a caller served meanwhile, and closed at once (pool end, resize),
      // must let it finish, or it rejects unhandled.
      if (hasStatements(client)) {
        state.listenerStatements = true
        client.once('drain', () => (state.listenerStatements = false))
      }
      return client
    },
    validate,
    destroy: async (client) => {
      // Taken from a holder that never gave it back (a close that timed out, an operation that ended), or
      // given back after a statement pg stopped waiting for (`query_timeout`): that statement may still run
      // on the server, which would keep the session, and its locks, until done. (A statement a holder merely
      // left running when it gave the client back runs to its end, as with pg.Pool.)
      const state = client[clientState]
      // A timed-out statement has run for query_timeout already: one request reaches it, and the slot (a
      // closing connection counts against maxSize) is not held for the resends.
      const running = state === undefined || !mayBeRunning(client) ? undefined : state.lease.revoked ? cancelRunning(client) : state.timedOut ? requestCancel(client) : undefined
      await Promise.all([running, endClient(client, extras.clock, endGraceMillis, state?.listenerStatements === true)])
      hooks.removed?.(client)
    },
    isBroken: (client) => client[clientState].broken,
    permanentError: (error) => (isPermanentConnectError(error, passwordFromFunction) ? extras.makePermanent(error) : undefined),
    idOf: (client) => (client as unknown as { processID?: number | null }).processID ?? undefined,
  }
  if (allowExitOnIdle) {
    // As pg.Pool does: a process whose clients are all idle may exit.
    factory.idle = (client) => (client as unknown as Referable).unref()
    factory.taken = (client) => (client as unknown as Referable).ref()
    // The check of a client that sat idle runs for a caller waiting on it (with no connect timeout, nothing else
    // holds the process): its socket holds the process, as a checked-out client's does. Back to idle, unref'd again.
    factory.validate = (client) => {
      ;(client as unknown as Referable).ref()
      return validate(client)
    }
  }
  return factory
}
