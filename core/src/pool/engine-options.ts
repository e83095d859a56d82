import type { PoolMonitor } from '../pool-monitor.js'
import type { ConnectionFactory } from './connection-factory.js'

/** Settings of a `PoolEngine`. Durations are in milliseconds; adapters validate and default them. */
export interface PoolEngineOptions<C> {
  /** The pool's name, for errors. */
  readonly name: string
  /** Where it connects, without credentials, for errors. */
  readonly target: string
  /** How the driver opens, checks and closes connections. */
  readonly factory: ConnectionFactory<C>
  /** Metrics, events and leak detection; its `clock` is the engine's clock. */
  readonly monitor: PoolMonitor
  /** Connections to keep open once the pool is in use (its first checkout or warm-up). */
  readonly minSize: number
  /** Most connections open or being opened at once. */
  readonly maxSize: number
  /** Longest wait for a connection before `PoolTimeoutError`; 0 waits without limit. */
  readonly acquireTimeoutMillis: number
  /** Longest time one connection attempt may take; 0 leaves it to the driver. */
  readonly connectTimeoutMillis: number
  /** The name users know `connectTimeoutMillis` by, for the timeout's message (default `connectTimeoutMillis`). */
  readonly connectTimeoutOption?: string
  /** Callers beyond this many waiting get `PoolExhaustedError` at once (undefined: unbounded). */
  readonly maxWaitingRequests?: number | undefined
  /** An idle connection above `minSize` closes after this long; 0 keeps it. */
  readonly idleTimeoutMillis: number
  /** A connection closes after this long (when idle, or on release); 0 means no limit. */
  readonly maxLifetimeMillis: number
  /** Each connection's lifetime is shortened by a random amount up to this. */
  readonly maxLifetimeJitterMillis: number
  /** A connection idle at least this long is validated before it is handed out (0: every time). */
  readonly validateAfterIdleMillis: number
  /** A connection closes after this many checkouts (Infinity: never). */
  readonly maxUses: number
  /**
   * True: a failed connection attempt that may pass is retried (with backoff) while callers wait, who
   * then time out with the last failure as the cause. False: each failed attempt fails one waiting
   * caller at once with its error (how `pg.Pool` behaves).
   */
  readonly retryCreate: boolean
  /** Random numbers in [0, 1) for lifetime jitter (tests pin it). */
  readonly random?: () => number
}

/**
 * The time limit of warm-up and of a connection's validation when `connectTimeoutMillis` is 0 (the driver's own
 * limit, none for pg): a connection whose path went silent (a NAT or a firewall dropped it while idle) answers
 * nothing until TCP gives up, minutes later, and a caller waiting without a limit of its own would wait as long.
 */
export const unlimitedConnectCheckMillis = 10_000

/** How long one validation of a connection may take: `connectTimeoutMillis`, or `unlimitedConnectCheckMillis` when that is 0. */
export function validationTimeoutMillis(options: Pick<PoolEngineOptions<unknown>, 'connectTimeoutMillis'>): number {
  return options.connectTimeoutMillis > 0 ? options.connectTimeoutMillis : unlimitedConnectCheckMillis
}
