import type { DisconnectReason } from '@lifeguard/core'
import type { PoolMonitor } from '@lifeguard/core/adapter'
import type {
  ConnectionCheckedInEvent,
  ConnectionCheckedOutEvent,
  ConnectionCheckOutFailedEvent,
  ConnectionCheckOutStartedEvent,
  ConnectionClosedEvent,
  ConnectionCreatedEvent,
  ConnectionPoolClearedEvent,
  ConnectionPoolClosedEvent,
  ConnectionPoolReadyEvent,
  ConnectionReadyEvent,
  MongoClient,
  ServerDescriptionChangedEvent,
  ServerHeartbeatFailedEvent,
  ServerHeartbeatSucceededEvent,
} from 'mongodb'
import { PoolClearedError } from '../errors.js'
import { checkoutsInDriver } from './driver-internals.js'

// Server types that take a pool's operations under the default read preference (the primary's).
const servesByDefault = new Set(['RSPrimary', 'Mongos', 'Standalone', 'LoadBalancer'])

/** What the tracker tells the pool besides the monitor. */
export interface CmapHooks {
  /** The driver's pool became ready (at start and after every clear). */
  poolReady(): void
  /**
   * An open connection went away for another reason than the pool closing (not one whose handshake failed),
   * a server's pool was cleared while another server's is ready, or a server left the topology while the
   * client stays open: its connections count no longer.
   */
  connectionLost(): void
  /** The client's topology closed: by `client.close()`, or by the driver itself after a failed first connection. */
  clientClosed(): void
  /** True once the pool's close has the driver close its client: a connection cut then was cut by it. */
  closing(): boolean
}

/**
 * A connection's key: the driver numbers connections per server from 1, so one client connected to several
 * servers (a sharded cluster's routers, a replica set read from its secondaries) has several of each id.
 */
type ConnectionKey = string

function keyOf(event: { readonly address: string; readonly connectionId: number | string }): ConnectionKey {
  return `${event.address} ${event.connectionId}`
}

function addressOf(key: ConnectionKey): string {
  return key.slice(0, key.lastIndexOf(' '))
}

// The driver's id back from a key, for the `disconnect` event of a connection the driver never reported closed.
function connectionIdOf(key: ConnectionKey): number | string {
  const id = key.slice(key.lastIndexOf(' ') + 1)
  return /^\d+$/.test(id) ? Number(id) : id
}

/** Connection counts as the `minSize` keeper reads them. */
export interface ConnectionCounts {
  /** Open or opening. */
  readonly total: number
  /** Finished their handshake. */
  readonly open: number
  /** Checked out by an operation. */
  readonly busy: number
  /** Checkouts waiting inside the driver. */
  readonly waiting: number
}

const reasons: Record<string, DisconnectReason> = { idle: 'idle', stale: 'stale', error: 'error', poolClosed: 'closed' }

/**
 * Follows one client's CMAP events: the live connection counts the driver does not expose publicly, and the
 * lifecycle events, create times and errors fed into core's `PoolMonitor`. One client per pool, so two pools
 * never mix. The monitor's heartbeat connection raises no CMAP events and is never counted.
 */
export class CmapTracker {
  readonly #monitor: PoolMonitor
  readonly #pool: string
  readonly #hooks: CmapHooks
  readonly #client: MongoClient
  readonly #listeners: Array<[string, (event: never) => void]> = []
  /** Created, handshake not finished yet. */
  readonly #pending = new Set<ConnectionKey>()
  /** Pending when the pool was cleared: the driver may drop them without a `connectionClosed` event. */
  readonly #doubtful = new Set<ConnectionKey>()
  readonly #open = new Set<ConnectionKey>()
  readonly #busy = new Set<ConnectionKey>()
  // Checkouts started and not yet out or failed, per server: a closed server's are dropped with its pool.
  readonly #waiting = new Map<string, number>()
  // Counts the topology closes, so a pool closed by one is told apart from a server leaving the topology.
  #topologyCloses = 0
  // Servers from their pool's clear to its next `ready` or its close (a server gone from the topology is
  // never ready again, and must not stay paused).
  readonly #pausedServers = new Set<string>()
  // Servers whose pool takes checkouts now.
  readonly #readyServers = new Set<string>()
  // The last failure to open a connection (a handshake, a checkout's new connection), until one opens.
  #lastConnectError: unknown
  #lastServerError: unknown
  // Each server's last heartbeat or description error, until it answers again: the most recent last.
  readonly #serverErrors = new Map<string, unknown>()
  // Each server's type (from its description): which of them take the operations the pool runs by default.
  readonly #serverTypes = new Map<string, string>()

  constructor(client: MongoClient, pool: string, monitor: PoolMonitor, hooks: CmapHooks) {
    this.#client = client
    this.#pool = pool
    this.#monitor = monitor
    this.#hooks = hooks
    this.#listen('connectionCreated', (e: ConnectionCreatedEvent) => this.#pending.add(keyOf(e)))
    this.#listen('connectionReady', (e: ConnectionReadyEvent) => this.#ready(e))
    this.#listen('connectionClosed', (e: ConnectionClosedEvent) => this.#closed(e))
    this.#listen('connectionCheckOutStarted', (e: ConnectionCheckOutStartedEvent) => this.#waiting.set(e.address, (this.#waiting.get(e.address) ?? 0) + 1))
    this.#listen('connectionCheckedOut', (e: ConnectionCheckedOutEvent) => {
      this.#checkOutEnded(e.address)
      this.#busy.add(keyOf(e))
    })
    this.#listen('connectionCheckOutFailed', (e: ConnectionCheckOutFailedEvent) => this.#checkOutFailed(e))
    this.#listen('connectionCheckedIn', (e: ConnectionCheckedInEvent) => this.#busy.delete(keyOf(e)))
    this.#listen('connectionPoolCleared', (e: ConnectionPoolClearedEvent) => this.#cleared(e))
    this.#listen('connectionPoolReady', (e: ConnectionPoolReadyEvent) => {
      this.#pausedServers.delete(e.address)
      this.#readyServers.add(e.address)
      this.#hooks.poolReady()
    })
    this.#listen('connectionPoolClosed', (e: ConnectionPoolClosedEvent) => this.#poolClosed(e))
    this.#listen('topologyClosed', () => this.#topologyClosed())
    this.#listen('serverDescriptionChanged', (e: ServerDescriptionChangedEvent) => {
      // Emitted just before the pool is cleared, with the error that made the server Unknown.
      const error = e.newDescription.error
      this.#serverTypes.set(e.address, e.newDescription.type)
      if (error != null) this.#serverFailed(e.address, (this.#lastServerError = error))
      else this.#serverErrors.delete(e.address)
    })
    // (A heartbeat event's `connectionId` is the server's address.)
    this.#listen('serverHeartbeatFailed', (e: ServerHeartbeatFailedEvent) => this.#serverFailed(e.connectionId, e.failure))
    this.#listen('serverHeartbeatSucceeded', (e: ServerHeartbeatSucceededEvent) => this.#serverErrors.delete(e.connectionId))
  }

  /** Connections open or opening (what the server counts). */
  get total(): number {
    return this.#pending.size + this.#open.size
  }
  /** Connections that finished their handshake. */
  get open(): number {
    return this.#open.size
  }
  /** Connections checked out by an operation. */
  get busy(): number {
    return this.#busy.size
  }
  get idle(): number {
    return Math.max(0, this.#open.size - this.#busy.size)
  }
  /**
   * True while a server's pool is cleared and no server's pool is ready: a checkout asked for meanwhile waits
   * and is served with the others when a server comes back, so a refill asked for then would come on top of
   * them. Not while another server's pool is ready: server selection skips the cleared one, so the refill is
   * served there (a replica set's ping waits for a primary, as any operation does). Paused while any one
   * server was, a server down for good (or gone) would stop every refill on the others.
   */
  get paused(): boolean {
    return this.#pausedServers.size > 0 && this.#readyServers.size === 0
  }
  /**
   * The counts without the connections of servers whose pool is cleared: each of those is of the old
   * generation and closes rather than serve again, so the refill (on a ready server) must replace them.
   */
  get serving(): ConnectionCounts {
    const paused = this.#pausedServers
    if (paused.size === 0) return { total: this.total, open: this.open, busy: this.busy, waiting: this.waiting }
    const serving = (keys: ReadonlySet<ConnectionKey>) => [...keys].filter((key) => !paused.has(addressOf(key))).length
    const open = serving(this.#open)
    return { total: serving(this.#pending) + open, open, busy: serving(this.#busy), waiting: this.waiting }
  }
  /**
   * Checkouts waiting inside the driver (for a new connection to finish its handshake). The events alone
   * overcount: a checkout whose operation's own `signal` aborts raises none (driver 7.9), and would stay
   * counted for good. So the lower of two upper bounds: the events' count and what the driver's pools hold.
   */
  get waiting(): number {
    let events = 0
    for (const count of this.#waiting.values()) events += count
    const inDriver = events === 0 ? 0 : checkoutsInDriver(this.#client)
    return inDriver === undefined ? events : Math.min(events, inDriver)
  }
  /**
   * Why no connection may be had, if any: the last failure to open one since one last opened, else a server's
   * last heartbeat failure while no server that takes the pool's operations by default (a primary, a router, a
   * standalone or a load balancer; a secondary too under a read preference other than the primary's) has its pool
   * ready and answers its heartbeats. Not the failures of a server
   * that is down while such a one serves (a secondary in maintenance): a checkout that times out then waited for
   * a busy pool, and such a cause would send whoever reads it after the network. (A primary down while the
   * secondaries answer is a cause: operations wait for a primary.)
   */
  get lastConnectError(): unknown {
    if (this.#lastConnectError !== undefined || this.#serverErrors.size === 0) return this.#lastConnectError
    // Under a read preference other than the primary's (`secondaryPreferred`, `nearest`), a secondary serves too.
    const secondariesServe = this.#client.readPreference?.mode !== undefined && this.#client.readPreference.mode !== 'primary'
    for (const address of this.#readyServers) {
      const type = this.#serverTypes.get(address) ?? ''
      if (!this.#serverErrors.has(address) && (servesByDefault.has(type) || (secondariesServe && type === 'RSSecondary'))) return undefined
    }
    let last: unknown
    for (const error of this.#serverErrors.values()) last = error
    return last
  }

  #serverFailed(address: string, error: unknown): void {
    this.#serverErrors.delete(address)
    this.#serverErrors.set(address, error)
  }

  /** Stops listening (after the client closed, so its last events are still counted). */
  detach(): void {
    for (const [event, listener] of this.#listeners) this.#client.off(event as 'connectionReady', listener as never)
    this.#listeners.length = 0
  }

  #listen<E>(event: string, listener: (event: E) => void): void {
    const safe = (payload: E) => {
      try {
        listener(payload)
      } catch (error) {
        // Bookkeeping must never break the driver's event loop; a bug here is still reported.
        this.#monitor.error(error, 'pool')
      }
    }
    this.#client.on(event as 'connectionReady', safe as never)
    this.#listeners.push([event, safe as never])
  }

  #ready(event: ConnectionReadyEvent): void {
    const key = keyOf(event)
    this.#pending.delete(key)
    this.#doubtful.delete(key)
    this.#open.add(key)
    this.#lastConnectError = undefined
    this.#serverErrors.delete(event.address)
    this.#monitor.connected(event.connectionId, event.durationMS)
  }

  #closed(event: ConnectionClosedEvent): void {
    const key = keyOf(event)
    const neverReady = this.#pending.delete(key) || this.#doubtful.delete(key)
    if (!neverReady) this.#open.delete(key)
    this.#busy.delete(key)
    // The driver's close cuts the connections still checked out (`closeCheckedOutConnections`) before it closes its
    // pools: they report `error`, but the pool closing them is no fault (and no alert's business).
    const reason = event.reason === 'error' && this.#hooks.closing() ? 'closed' : (reasons[event.reason] ?? 'error')
    // A connection that never finished its handshake had no `connect`: no `disconnect` either (as on PostgreSQL),
    // or a count of open connections kept from the events would go negative, and a failed login read as a drop.
    if (!neverReady) this.#monitor.disconnected(event.connectionId, reason)
    // Only a failed handshake carries its error; a connection dropped mid-command is reported by the pool clear.
    // `error` is set by the driver on handshake failures but left out of its public typings.
    const error = (event as { error?: unknown }).error
    if (event.reason === 'error' && error != null) {
      this.#lastConnectError = error
      this.#monitor.error(error, 'connection')
    }
    // A failed handshake took nothing away from `minSize`; the keeper retries its own failures with backoff.
    if (reason !== 'closed' && !neverReady) this.#hooks.connectionLost()
  }

  // Every connection of a closed topology is gone, whether or not the driver said so for each one (a
  // handshake cut short may never report): start from zero, so a reconnected client is not counted twice.
  #topologyClosed(): void {
    this.#pending.clear()
    this.#doubtful.clear()
    this.#open.clear()
    this.#busy.clear()
    this.#waiting.clear()
    this.#pausedServers.clear()
    this.#readyServers.clear()
    this.#topologyCloses++
    this.#hooks.clientClosed()
  }

  // The driver closes a server's pool when the server leaves the topology (a replica set member no longer in
  // `hosts`, a router dropped by SRV polling or no longer a router) and stops relaying that pool's events at
  // once: its connections in use or being opened never report closing, and its checkouts being opened never
  // report failing. Once a pool closed none of its connections count, so a server re-added later (whose new
  // pool numbers connections from 1 again) starts from nothing.
  #poolClosed(event: ConnectionPoolClosedEvent): void {
    const { address } = event
    this.#pausedServers.delete(address)
    this.#readyServers.delete(address)
    this.#waiting.delete(address)
    const server = `${address} `
    // (Only the open ones were announced by a `connect`: only they get a `disconnect`.)
    const gone: ConnectionKey[] = []
    for (const key of this.#open) if (key.startsWith(server)) gone.push(key)
    for (const keys of [this.#pending, this.#doubtful, this.#open, this.#busy]) {
      for (const key of keys) if (key.startsWith(server)) keys.delete(key)
    }
    for (const key of gone) this.#monitor.disconnected(connectionIdOf(key), 'closed')
    // The client closing closes every pool first and its topology right after, in the same call: only a
    // server that left a topology still open takes connections away from `minSize`.
    const closes = this.#topologyCloses
    queueMicrotask(() => {
      if (this.#topologyCloses === closes && this.#listeners.length > 0) this.#hooks.connectionLost()
    })
  }

  #checkOutEnded(address: string): void {
    const count = (this.#waiting.get(address) ?? 0) - 1
    if (count > 0) this.#waiting.set(address, count)
    else this.#waiting.delete(address)
  }

  #checkOutFailed(event: ConnectionCheckOutFailedEvent): void {
    this.#checkOutEnded(event.address)
    const error = (event as { error?: unknown }).error
    if (event.reason === 'connectionError' && error != null) this.#lastConnectError = error
    // Only reachable with `clientOptions.waitQueueTimeoutMS`; admission timeouts are counted by the pool.
    // The driver emits it from its own queue processing, in no particular operation: report it in none.
    if (event.reason === 'timeout') this.#monitor.timedOutIn(event.durationMS, this.waiting, this.#lastConnectError, undefined)
  }

  #cleared(event: ConnectionPoolClearedEvent): void {
    // A load balancer's pool clears one service's connections and is not paused.
    const paused = (event as { serviceId?: unknown }).serviceId == null
    if (paused) {
      this.#pausedServers.add(event.address)
      this.#readyServers.delete(event.address)
    }
    // Only the cleared server's connections: another server's pool goes on as it was.
    const server = `${event.address} `
    for (const key of this.#pending) {
      if (!key.startsWith(server)) continue
      this.#doubtful.add(key)
      this.#pending.delete(key)
    }
    this.#monitor.error(new PoolClearedError(this.#pool, { cause: this.#lastServerError }), 'pool')
    // Its connections left the serving count: another server that is ready can replace them now.
    if (paused && this.#readyServers.size > 0) this.#hooks.connectionLost()
  }
}
