import { performance } from 'node:perf_hooks'
import type { DisconnectReason } from '@lifeguard/core'
import type { Checkout } from '@lifeguard/core/adapter'
import pg from 'pg'

/** What a client's `release()` accepts: pg's contract (a truthy value destroys the connection). */
export type ReleaseArgument = Error | boolean | undefined

/** What the pool does when one of its clients is created, errors or is released. */
export interface ClientHooks {
  /** pg Client's own connect timeout (the pool-level one would add a timer to every checkout). */
  readonly connectTimeoutMillis: number
  /** A client is about to connect. */
  created(client: TrackedClient): void
  /** Its connection is open; pg-pool arms the lifetime timer right after this returns. */
  opened(client: TrackedClient): void
  /** `release()` was called by whoever holds the client. */
  released(client: TrackedClient, argument: ReleaseArgument): void
  /** The client's connection failed after it was open. */
  failed(client: TrackedClient, error: Error): void
}

/** Per-client bookkeeping, kept behind a symbol so it stays out of the user's way. */
export interface ClientState {
  /** Set while Lifeguard has it checked out. */
  checkout: Checkout | undefined
  /** The handle holding it (connect() or a transaction), so release() can tell the handle. */
  holder: Map<TrackedClient, unknown> | undefined
  /** pg-pool's release for the current checkout (pg-pool assigns `client.release` on every checkout). */
  pgRelease: ((argument?: ReleaseArgument) => void) | undefined
  /** Set when the pool took the client back by force (close timeout): a late release() is then a no-op. */
  revoked: boolean
  disconnectReason: DisconnectReason | undefined
  /** True once its failure was reported: a dropped connection is one error, however pg announces it. */
  failed: boolean
  /** True once the connection is open (pg-pool's 'connect'). */
  connected: boolean
  /** performance.now() when the client was created (just before it connects). */
  readonly createdAt: number
  /** performance.now() after which pg-pool retires it (Infinity: no lifetime). */
  expiresAt: number
}

/** Where a tracked client keeps its state. */
export const clientState: unique symbol = Symbol('lifeguard.postgres.client')

/**
 * The pg `Client` that Lifeguard's pools create (pg-pool's `Client` option). It times its connect, keeps
 * its lifetime, reports connection errors whether idle or checked out (so none can crash the process),
 * and routes `release()` through the pool's bookkeeping.
 */
export class TrackedClient extends pg.Client {
  readonly [clientState]: ClientState
  readonly #release: (argument?: ReleaseArgument) => void
  readonly #hooks: ClientHooks

  constructor(config: pg.ClientConfig, hooks: ClientHooks) {
    // pg-pool hides the password as a non-enumerable property, so the spread alone would drop it.
    const own: pg.ClientConfig = { ...config, connectionTimeoutMillis: hooks.connectTimeoutMillis }
    if (config.password !== undefined) own.password = config.password
    super(own)
    this[clientState] = {
      checkout: undefined,
      holder: undefined,
      pgRelease: undefined,
      revoked: false,
      disconnectReason: undefined,
      failed: false,
      connected: false,
      createdAt: performance.now(),
      expiresAt: Infinity,
    }
    // One function per connection, not per checkout.
    this.#release = (argument) => hooks.released(this, argument)
    // Always listening: a checked-out client whose connection drops would otherwise throw an
    // unhandled 'error' event (pg-pool only listens while the client is idle).
    this.on('error', (error: Error) => {
      this[clientState].disconnectReason ??= 'error'
      hooks.failed(this, error)
    })
    this.#hooks = hooks
    hooks.created(this)
  }

  /** pg's `connect()`; with a callback (as pg-pool calls it) the pool hears of success first. */
  override connect(): Promise<pg.Client>
  override connect(callback: (error: Error) => void): void
  override connect(callback?: (error: Error) => void): Promise<pg.Client> | void {
    if (callback === undefined) return super.connect()
    super.connect((error: Error) => {
      if (!error) this.#hooks.opened(this)
      callback(error)
    })
  }

  /** Gives the client back to its pool; `release(true)` or `release(error)` closes the connection instead. */
  get release(): (argument?: ReleaseArgument) => void {
    return this.#release
  }

  // pg-pool assigns its own release function on each checkout; keep it and call it after the bookkeeping.
  set release(pgRelease: (argument?: ReleaseArgument) => void) {
    this[clientState].pgRelease = pgRelease
  }

  /** Abandons a connection attempt still in progress (as pg-pool's own connect timeout does). */
  abortConnecting(): void {
    if (!this[clientState].connected) this.connection.stream.destroy()
  }

  /** The server process id of this connection (`pg_backend_pid()`), once connected. */
  get backendPid(): number | undefined {
    return (this as unknown as { processID?: number | null }).processID ?? undefined
  }
}

/** A `TrackedClient` class bound to one pool's hooks (pg-pool constructs clients with the config only). */
export function trackedClientClass(hooks: ClientHooks): new (config: pg.ClientConfig) => TrackedClient {
  return class PoolClient extends TrackedClient {
    constructor(config: pg.ClientConfig) {
      super(config, hooks)
    }
  }
}
