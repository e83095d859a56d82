import { performance } from 'node:perf_hooks'
import type { PoolErrorEvent } from '@lifeguard/core'
import type { AdmissionQueue, PoolMonitor } from '@lifeguard/core/adapter'
import type pg from 'pg'
import { describeConnectFailure } from './connect-failure.js'
import type { ResolvedOptions } from './resolve-options.js'
import { clientState, type TrackedClient } from './tracked-client.js'

/** What the parts of one pool share. */
export interface PoolParts {
  readonly name: string
  readonly target: string
  readonly options: ResolvedOptions
  readonly monitor: PoolMonitor
  readonly admission: AdmissionQueue
  readonly pgPool: pg.Pool
  /** Set when close() begins. */
  closing: boolean
}

/**
 * The connections of one pool, from creation until their socket closes: pg-pool's `connect`,
 * `remove` and `error` events turned into Lifeguard's `connect` / `disconnect` (with a reason) /
 * `error` events, per-connection lifetimes with jitter, and the last connect error.
 */
export class ConnectionTracker {
  /** Every client from creation until its connection ends, so close() can reach every one. */
  readonly clients = new Set<TrackedClient>()
  /** The last failed connection attempt, redacted (cleared by the next success). */
  lastConnectError: Error | undefined
  readonly #parts: PoolParts
  #onAllRemoved: (() => void) | undefined

  constructor(parts: PoolParts) {
    this.#parts = parts
    const { pgPool } = parts
    pgPool.on('connect', (client) => this.#connected(client as unknown as TrackedClient))
    pgPool.on('remove', (client) => this.#removed(client as unknown as TrackedClient))
    // Always listened to: an idle connection dropped by a restart or pg_terminate_backend must never crash.
    pgPool.on('error', (error, client) => this.clientFailed(client as unknown as TrackedClient, error, 'idle-connection'))
  }

  /** A client was created (it is about to connect). */
  created(client: TrackedClient): void {
    this.clients.add(client)
    client.once('end', () => this.#forget(client))
  }

  /**
   * A client's connection is open. pg-pool reads `options.maxLifetimeSeconds` when it arms this
   * client's lifetime timer, right after: a fresh random value per client spreads the expiries, so
   * connections do not all reconnect at once.
   */
  opened(): void {
    const { maxLifetimeMillis, maxLifetimeJitterMillis } = this.#parts.options
    if (maxLifetimeMillis === 0) return
    this.#parts.pgPool.options.maxLifetimeSeconds = (maxLifetimeMillis - Math.random() * maxLifetimeJitterMillis) / 1000
  }

  /** Reports a connection's failure once, however many ways pg announces it. */
  clientFailed(client: TrackedClient, error: Error, source: PoolErrorEvent['source']): void {
    const state = client[clientState]
    if (state.failed) return
    state.failed = true
    this.#parts.monitor.error(error, source)
  }

  /** Records a failed connection attempt; returns it redacted. */
  connectFailed(error: unknown): Error {
    const safe = this.#parts.monitor.error(describeConnectFailure(error, this.#parts.options.connectTimeoutMillis), 'connection')
    this.lastConnectError = safe
    return safe
  }

  /** Abandons the connection attempts in progress (pg-pool's end() would wait for them). */
  abortConnecting(): void {
    for (const client of this.clients) client.abortConnecting()
  }

  /** Calls `resolve` once the last client is gone. */
  onAllRemoved(resolve: () => void): void {
    this.#onAllRemoved = resolve
  }

  #connected(client: TrackedClient): void {
    const state = client[clientState]
    const now = performance.now()
    // pg-pool has just armed this client's lifetime timer from the value opened() left in its options.
    const lifetimeSeconds = this.#parts.pgPool.options.maxLifetimeSeconds ?? 0
    if (lifetimeSeconds > 0) state.expiresAt = now + lifetimeSeconds * 1000
    state.connected = true
    this.lastConnectError = undefined
    this.#parts.monitor.connected(client.backendPid ?? 0, now - state.createdAt)
  }

  #removed(client: TrackedClient): void {
    const state = client[clientState]
    this.#forget(client)
    // Reasons set on the way out (resize, error, released) win; otherwise infer what made pg-pool let go.
    const reason = state.disconnectReason ?? (this.#parts.closing ? 'closed' : performance.now() >= state.expiresAt - 5 ? 'lifetime' : 'idle')
    this.#parts.monitor.disconnected(client.backendPid, reason)
  }

  #forget(client: TrackedClient): void {
    if (this.clients.delete(client) && this.clients.size === 0) this.#onAllRemoved?.()
  }
}
