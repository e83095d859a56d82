import type { PooledConnection } from './pooled-connection.js'

/** What the pool engine gives `ConnectionFactory.create` for one connection attempt. */
export interface CreateAttempt<C = unknown> {
  /** The pool's record for this connection (its `state` tells whether it is idle or checked out). */
  readonly lease: PooledConnection<C>
  /**
   * Aborts when the attempt is abandoned (connect timeout, pool closed): stop connecting and reject. An attempt
   * whose factory has not settled 2 s after its signal aborted is given up on, and its place in the pool freed: a
   * connection the factory still opens after that is closed at once, and until then is not counted (nor held
   * to `maxSize`).
   */
  readonly signal: AbortSignal
  /**
   * Call when the connection fails at any later time (its socket errors or ends): an idle one leaves the
   * pool at once, a checked-out one is closed when it is released. Safe to call more than once.
   */
  readonly broken: (error: Error) => void
}

/**
 * All a driver supplies to the pool engine: how to open, check, close and recognise a broken
 * connection. The engine owns everything else (idle list, waiters, sizes, timers, metrics, events).
 *
 * @example
 * const factory: ConnectionFactory<pg.Client> = {
 *   async create({ signal, broken }) {
 *     const client = new pg.Client(config)
 *     client.on('error', broken)
 *     // pg never settles a connect() whose client was ended meanwhile: the abort rejects by itself.
 *     const aborted = new Promise<never>((_, reject) =>
 *       signal.addEventListener('abort', () => (void client.end(), reject(signal.reason)), { once: true }),
 *     )
 *     await Promise.race([client.connect(), aborted])
 *     return client
 *   },
 *   validate: (client) => client.query('SELECT 1').then(() => true),
 *   destroy: (client) => client.end(),
 *   isBroken: (client) => brokenClients.has(client),
 * }
 */
export interface ConnectionFactory<C> {
  /** Opens a connection ready for use; rejects when it cannot. */
  create(attempt: CreateAttempt<C>): Promise<C>
  /** Checks a connection that sat idle (and each one a warm-up opens); resolves false or rejects if unusable. */
  validate?(connection: C): Promise<boolean | void>
  /**
   * Closes a connection. Rejections are ignored: the connection is gone either way. It must settle, within a
   * bound of its own (the PostgreSQL adapter's waits at most 2 s, then destroys the socket): until it does, the
   * connection still counts against `maxSize` (the server may still hold it), so one that never settles takes
   * a place in the pool for good.
   */
  destroy(connection: C): void | Promise<void>
  /** True when the connection can no longer be used. Checked before a connection is handed out and on release. */
  isBroken(connection: C): boolean
  /**
   * Classifies a failed `create`: the error to give waiters when waiting will not fix it (a wrong
   * password), or undefined when a later attempt may succeed (refused, reset, too many connections).
   * Receives the error already redacted. Without this method every failure counts as transient.
   */
  permanentError?(error: Error): Error | undefined
  /** An id for events (e.g. the server's process id). */
  idOf?(connection: C): string | number | undefined
  /** The connection went idle (e.g. let the process exit while nothing is checked out). */
  idle?(connection: C): void
  /** The connection was taken out of the idle list. */
  taken?(connection: C): void
}
