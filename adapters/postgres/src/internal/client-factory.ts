import type { ConnectionFactory, CreateAttempt } from '@lifeguard/core/adapter'
import { isPermanentConnectError } from './connect-failure.js'
import { clientState, type PooledClient } from './pooled-client.js'
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

/**
 * The pool engine's factory over `pg.Client` (the application's own `pg`, or the `Client` class it
 * gives): connect, run the `onConnect` and `verify` hooks, watch the socket, validate with `SELECT 1`,
 * close. Every error a client emits is caught here, so a dropped connection never crashes the process.
 *
 * @param release - the client's `release()` (bound once per client, not per checkout)
 */
export function clientFactory(
  settings: PgPoolSettings,
  release: (client: PooledClient, argument?: Error | boolean) => void,
  hooks: ClientHooks,
  makePermanent: (error: Error) => Error,
): ConnectionFactory<PooledClient> {
  const { Client, clientConfig, onConnect, verify, allowExitOnIdle } = settings
  const factory: ConnectionFactory<PooledClient> = {
    async create(attempt: CreateAttempt<PooledClient>): Promise<PooledClient> {
      const client = new Client(clientConfig) as unknown as PooledClient
      const state = { lease: attempt.lease, holder: undefined, failure: undefined as Error | undefined, broken: false }
      client[clientState] = state
      // Always listening: pg emits 'error' on a client whose socket fails, idle or not.
      client.on('error', (error: Error) => {
        state.failure ??= error
        state.broken = true
        if (attempt.lease.state === 'idle') hooks.idleError?.(error, client)
        attempt.broken(error)
      })
      client.on('end', () => {
        state.broken = true
        attempt.broken(state.failure ?? new Error('The connection ended.'))
      })
      // Set before the hooks run: pg hands `verify` a client that can already be released.
      client.release = (argument?: Error | boolean) => release(client, argument)
      await abortable(attempt.signal, client, async () => {
        await client.connect()
        if (onConnect !== undefined) await onConnect(client)
        if (verify !== undefined) await new Promise<void>((resolve, reject) => verify(client, (error) => (error ? reject(error) : resolve())))
      })
      hooks.connected?.(client)
      return client
    },
    validate: (client) => client.query('SELECT 1').then(() => true),
    destroy: async (client) => {
      await client.end().catch(() => undefined)
      hooks.removed?.(client)
    },
    isBroken: (client) => client[clientState].broken,
    permanentError: (error) => (isPermanentConnectError(error) ? makePermanent(error) : undefined),
    idOf: (client) => (client as unknown as { processID?: number | null }).processID ?? undefined,
  }
  if (allowExitOnIdle) {
    // As pg.Pool does: a process whose clients are all idle may exit.
    factory.idle = (client) => (client as unknown as Referable).unref()
    factory.taken = (client) => (client as unknown as Referable).ref()
  }
  return factory
}

/**
 * Runs the connection steps, giving up at once when the pool abandons the attempt (connect timeout,
 * close): the socket is closed through `client.end()` and the attempt rejects with the signal's reason.
 * (pg never settles a `connect()` whose client was ended meanwhile, so the race is ours to run.)
 */
function abortable(signal: AbortSignal, client: PooledClient, steps: () => Promise<void>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const abandon = () => {
      reject(signal.reason)
      void client.end().catch(() => undefined)
    }
    if (signal.aborted) return abandon()
    signal.addEventListener('abort', abandon, { once: true })
    steps().then(
      () => {
        signal.removeEventListener('abort', abandon)
        resolve()
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abandon)
        void client.end().catch(() => undefined)
        reject(error)
      },
    )
  })
}
