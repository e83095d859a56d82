import type { Clock } from '@lifeguard/core'
import type { MongoClient } from 'mongodb'
import { topologyConnected } from './driver-internals.js'

// A reconnect starts at least this long after the last failed one started, doubling up to the most (as the
// PostgreSQL pool's retries while callers wait): a connect that fails at once (an SRV name that does not
// resolve) is not tried again by every operation.
const firstBackoffMillis = 25
const maxBackoffMillis = 500

/**
 * Brings back a client the driver closed on its own. When a client's first connection fails, the driver
 * closes its topology but keeps it, so every later operation fails with `Topology is closed`, also once the
 * server is up. `client.connect()` builds a fresh topology on the same client, so every `Db`, `Collection` and
 * CMAP listener made from it keeps working: nothing the application holds has to be replaced.
 */
export class ClientRevival {
  readonly #client: MongoClient
  readonly #clock: Clock
  #closed = false
  #stopped = false
  #reconnecting: Promise<void> | undefined
  // The last reconnect's failure, given to callers until `#retryAt` (on `#clock`).
  #lastError: unknown
  #retryAt = 0
  #backoffMillis = firstBackoffMillis

  constructor(client: MongoClient, clock: Clock) {
    this.#client = client
    this.#clock = clock
  }

  /** The client's topology closed while the pool is open: the next `ensure()` reconnects it. */
  markClosed(): void {
    this.#closed = true
  }

  /**
   * `undefined` when the client is usable (the hot path costs one check); else the reconnect every caller
   * shares, which rejects with the driver's connect error (and leaves the client marked closed again). Within
   * the backoff from a failed reconnect's start (25 ms, doubling to 500 ms), that failure again, without a
   * connect.
   */
  ensure(): Promise<void> | undefined {
    if (this.#reconnecting !== undefined) return this.#reconnecting
    if (!this.#closed || this.#stopped) return undefined
    if (this.#clock.now() < this.#retryAt) return Promise.reject(this.#lastError)
    this.#closed = false
    const started = this.#clock.now()
    const reconnecting = this.#client.connect().then(
      () => {
        this.#reconnecting = undefined
        this.#backoffMillis = firstBackoffMillis
      },
      (error: unknown) => {
        this.#reconnecting = undefined
        this.#lastError = error
        // From the attempt's start: one that took as long already (a server selection that timed out) waited
        // its turn.
        this.#retryAt = started + this.#backoffMillis
        this.#backoffMillis = Math.min(this.#backoffMillis * 2, maxBackoffMillis)
        // A connect that fails before the driver builds a topology (an SRV lookup, a TLS file read, the
        // auto-encrypter's start) closes none, so no close event marks the client closed again: without this,
        // every later operation would meet the old closed topology, also once the cause is gone.
        if (!this.#stopped && !topologyConnected(this.#client)) this.#closed = true
        throw error
      },
    )
    this.#reconnecting = reconnecting
    return reconnecting
  }

  /** Starts a reconnect if one is due, without waiting; its failure is reported by the next close event. */
  kick(): void {
    this.ensure()?.catch(() => undefined)
  }

  /** The pool is closing: nothing reconnects the client from now on (a read of `pool.client` would have). */
  stop(): void {
    this.#stopped = true
  }

  /** Resolves once no reconnect is running, so closing the pool cannot race one and leave a topology open. */
  async settled(): Promise<void> {
    await this.#reconnecting?.catch(() => undefined)
  }
}
