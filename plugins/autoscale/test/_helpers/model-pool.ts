import {
  type ManagedPool,
  type PoolEventMap,
  type PoolEventName,
  type PoolEventSource,
  type PoolMetrics,
  type PoolSize,
  type PoolState,
  type ResizeOptions,
  type WarmupReport,
} from '@lifeguard/core'
import {
  PoolMonitor,
} from '@lifeguard/core/adapter'

/** Use time (ms) of one checkout when `active` connections are in use at once. */
export type UseTimeModel = (active: number) => number

/** Queries that mostly wait (e.g. `pg_sleep`): use time does not depend on concurrency. */
export function waitBound(useMillis = 5): UseTimeModel {
  return () => useMillis
}

/**
 * Queries that keep the server's CPU busy: beyond `cores` connections they share the cores, and each extra
 * connection costs a little more (context switches, cache), so throughput peaks at `cores` and then falls.
 */
export function cpuBound(serviceMillis = 1, cores = 2, contention = 0.004): UseTimeModel {
  return (active) => serviceMillis * Math.max(1, active / cores) * (1 + contention * active)
}

/**
 * A load measured on a real machine: queries/s at some pool sizes (100 clients), interpolated between.
 * Use time follows by Little's law: `active / throughput`.
 */
export function measured(points: readonly (readonly [size: number, perSecond: number])[]): UseTimeModel {
  return (active) => {
    let [n0, x0] = points[0] as readonly [number, number]
    for (const [n1, x1] of points) {
      if (active <= n1) {
        const x = n1 === n0 ? x1 : x0 + ((x1 - x0) * (active - n0)) / (n1 - n0)
        return (1000 * active) / x
      }
      ;[n0, x0] = [n1, x1]
    }
    return (1000 * active) / x0
  }
}

/** Options of a `ModelPool`. */
export interface ModelPoolOptions {
  model: UseTimeModel
  maxSize: number
  minSize?: number
  clients?: number
  /**
   * The client's event-loop delay (ms) with `active` connections in use: added to every use time (the
   * reply waits that long before the client reads it) and reported by `takeLoopDelay()`. Default none.
   */
  loopDelay?: UseTimeModel
  /** Multiplies the database's time per `advance` (noise nobody reports, e.g. a neighbour on the server). Default 1. */
  noise?: () => number
  /**
   * The database's time each connection a grow opens costs it (ms), paid after the pool sees it open:
   * until it is paid, queries take `openingSlowdown` times as long. Default 0.
   */
  openCostMillis?: number
  openingSlowdown?: number
  /**
   * How long each connection a grow opens takes to open (ms): they become usable one after another, and
   * each starts paying its `openCostMillis` then. Until then the pool reports them open but not active.
   * Default 0 (usable at once).
   */
  openTimeMillis?: number
}

/**
 * A pool that follows a queueing model instead of a database: `clients` closed-loop clients, at most
 * `maxSize` of them holding a connection, use time from the model, everything else waiting. `advance(ms)`
 * moves the model forward and accumulates exactly the lifetime counters core keeps (wait/use count and
 * sum), so policies and autoscalers see what a real pool would report, deterministically. It implements
 * the `ManagedPool` contract with core's `PoolMonitor`, so `resize` emits the real `resize` event.
 */
export class ModelPool implements ManagedPool {
  readonly name: string
  readonly kind = 'model'
  readonly target: string
  readonly monitor: PoolMonitor
  readonly resizes: { size: PoolSize; options: ResizeOptions | undefined }[] = []
  clients = 0
  model: UseTimeModel
  loopDelay: UseTimeModel
  noise: () => number
  readonly #openCostMillis: number
  readonly #openingSlowdown: number
  readonly #openTimeMillis: number
  // Connections usable (open): `maxSize` but while a grow opens them, one per `openTimeMillis`.
  #usable: number
  #openingMillis = 0
  // Database time still owed for connections opened.
  #openBacklogMillis = 0
  #state: PoolState = 'ready'
  #minSize: number
  #maxSize: number
  #useCount = 0
  #useSum = 0
  #waitCount = 0
  #waitSum = 0
  #completedTotal = 0
  #loopDelaySum = 0
  #loopDelayMillis = 0

  constructor(name: string, options: ModelPoolOptions) {
    this.name = name
    this.target = `model://app@memory/${name}`
    this.model = options.model
    this.loopDelay = options.loopDelay ?? (() => 0)
    this.noise = options.noise ?? (() => 1)
    this.#openCostMillis = options.openCostMillis ?? 0
    this.#openingSlowdown = options.openingSlowdown ?? 1
    this.#openTimeMillis = options.openTimeMillis ?? 0
    this.#maxSize = options.maxSize
    this.#minSize = options.minSize ?? 0
    this.#usable = options.maxSize
    this.clients = options.clients ?? 0
    this.monitor = new PoolMonitor({ name, kind: this.kind, target: this.target })
  }

  get state(): PoolState {
    return this.#state
  }

  get maxSize(): number {
    return this.#maxSize
  }

  get active(): number {
    return Math.min(this.clients, this.#usable)
  }

  /** Checkouts completed so far (the model's throughput integral). */
  get completed(): number {
    return this.#useCount
  }

  /** Moves the model forward by `millis`, with the current clients and size. */
  advance(millis: number): void {
    // (Only connections some client waits for are opened, as a real pool opens them on demand.)
    const wanted = Math.min(this.#maxSize, Math.max(this.#usable, this.clients))
    if (this.#usable < wanted) {
      this.#openingMillis += millis
      const opened = Math.min(wanted - this.#usable, Math.floor(this.#openingMillis / this.#openTimeMillis))
      this.#openingMillis -= opened * this.#openTimeMillis
      this.#usable += opened
      this.#openBacklogMillis += opened * this.#openCostMillis
    }
    const active = this.active
    const loopDelay = this.loopDelay(active)
    this.#loopDelaySum += loopDelay * millis
    this.#loopDelayMillis += millis
    if (active === 0) return
    const slowdown = this.#openBacklogMillis > 0 ? this.#openingSlowdown : 1
    this.#openBacklogMillis = Math.max(0, this.#openBacklogMillis - millis)
    const useMillis = this.model(active) * this.noise() * slowdown + loopDelay
    const perMilli = active / useMillis
    const waitMillis = (this.clients - active) / perMilli
    // Whole checkouts only: fractions carry over, as a real pool completes one at a time.
    const before = Math.floor(this.#completedTotal)
    this.#completedTotal += perMilli * millis
    const done = Math.floor(this.#completedTotal) - before
    this.#useCount += done
    this.#useSum += done * useMillis
    this.#waitCount += done
    this.#waitSum += done * waitMillis
  }

  /** The mean event-loop delay since the last call, as an autoscaler measures it. */
  takeLoopDelay(): number {
    const mean = this.#loopDelayMillis > 0 ? this.#loopDelaySum / this.#loopDelayMillis : 0
    this.#loopDelaySum = 0
    this.#loopDelayMillis = 0
    return mean
  }

  async warmup(): Promise<WarmupReport> {
    return { pool: this.name, requested: 0, opened: 0, failed: 0, durationMillis: 0 }
  }

  resize(size: PoolSize, options?: ResizeOptions): void {
    this.resizes.push({ size, options })
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    this.#minSize = size.minSize ?? this.#minSize
    this.#maxSize = size.maxSize ?? this.#maxSize
    if (this.#maxSize <= this.#usable || this.#openTimeMillis === 0) {
      const opened = Math.max(0, Math.min(this.clients, this.#maxSize) - Math.min(this.clients, this.#usable))
      this.#openBacklogMillis += opened * this.#openCostMillis
      this.#usable = this.#maxSize
    }
    this.monitor.resized(previous, { minSize: this.#minSize, maxSize: this.#maxSize }, options?.reason ?? 'manual', options?.details)
  }

  getPoolMetrics(): PoolMetrics {
    const active = this.active
    const waiting = this.clients - active
    const metrics = this.monitor.snapshot({
      totalConnections: Math.min(this.clients, this.#maxSize),
      activeConnections: active,
      idleConnections: 0,
      waitingRequests: waiting,
      minSize: this.#minSize,
      maxSize: this.#maxSize,
    })
    metrics.useTime = { ...metrics.useTime, count: this.#useCount, sum: this.#useSum }
    metrics.waitTime = { ...metrics.waitTime, count: this.#waitCount, sum: this.#waitSum }
    return metrics
  }

  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => void | Promise<void>): () => void {
    return this.monitor.events.on(event, listener)
  }

  get events(): PoolEventSource {
    return this.monitor.events
  }

  async close(): Promise<void> {
    this.#state = 'closed'
  }
}

/**
 * The CPU-bound query of the autoscale-step benchmark as measured on a 2-core machine that also runs the
 * client (queries/s with 100 clients at each pool size): throughput creeps up to ~40 connections, then
 * falls. Flat enough that a step judged on one noisy window can read as a knee anywhere.
 */
export const measuredCpuBound = measured([[5, 1344], [7, 1431], [10, 1637], [14, 1752], [20, 1815], [28, 1887], [40, 1958], [56, 1933], [95, 1847]])
