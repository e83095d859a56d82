// A ManagedPool without a database: core's own PoolMonitor and AdmissionQueue (the bookkeeping every
// adapter shares) over connections that are plain tokens. Lets lifecycle tests run without a server;
// the metric values themselves are tested against the real PostgreSQL pool.
import { performance } from 'node:perf_hooks'
import {
  OperationContext,
  PoolTimeoutError,
  type ManagedPool,
  type PoolCounters,
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
  AdmissionQueue,
  PoolMonitor,
} from '@lifeguard/core/adapter'

/** Options of a {@link MemoryPool}. */
export interface MemoryPoolOptions {
  kind?: string
  minSize?: number
  maxSize?: number
  acquireTimeoutMillis?: number
  leakDetectionMillis?: number
  target?: string
  secrets?: readonly string[]
  /** Report parked and closing connections (as core's engine does), starting from these numbers. */
  outside?: { parkedConnections: number; closingConnections: number }
}

export class MemoryPool implements ManagedPool {
  readonly name: string
  readonly kind: string
  readonly target: string
  /** How often `getPoolMetrics()` or `getPoolCounters()` was called: proves whether a metric callback is still registered. */
  metricsCalls = 0
  /** How often `getPoolMetrics()` (which sorts the windows) was called. */
  fullMetricsCalls = 0
  /** Parked and closing connections the pool reports; set them to change the next reading. */
  readonly outside: { parkedConnections: number; closingConnections: number } | undefined
  readonly #monitor: PoolMonitor
  readonly #queue: AdmissionQueue
  #state: PoolState = 'ready'
  #minSize: number
  #maxSize: number
  #idle = 0
  #nextId = 0

  constructor(name: string, options: MemoryPoolOptions = {}) {
    this.name = name
    this.kind = options.kind ?? 'memory'
    this.target = options.target ?? `memory://${name}`
    this.#minSize = options.minSize ?? 0
    this.#maxSize = options.maxSize ?? 2
    this.outside = options.outside === undefined ? undefined : { ...options.outside }
    this.#monitor = new PoolMonitor({
      name,
      kind: this.kind,
      target: this.target,
      leakDetectionMillis: options.leakDetectionMillis,
      ...(options.secrets === undefined ? {} : { secrets: options.secrets }),
    })
    this.#queue = new AdmissionQueue({
      pool: name,
      limit: this.#maxSize,
      ...(options.acquireTimeoutMillis === undefined ? {} : { timeoutMillis: options.acquireTimeoutMillis }),
    })
  }

  get state(): PoolState {
    return this.#state
  }

  /** Listeners attached to this pool, over all events. */
  get listenerCount(): number {
    return this.#monitor.events.listenerCount
  }

  /** Whether anything listens to `event` (what an adapter checks before timing a statement). */
  hasListeners(event: PoolEventName): boolean {
    return this.#monitor.events.has(event)
  }

  /** Takes a connection; resolves to the function that gives it back. */
  async acquire(): Promise<() => void> {
    const started = performance.now()
    try {
      await this.#queue.acquire(OperationContext.tryCurrent()?.signal)
    } catch (error) {
      if (error instanceof PoolTimeoutError) this.#monitor.timedOut(performance.now() - started, this.#queue.waiting)
      throw error
    }
    if (this.#idle > 0) this.#idle--
    else this.#monitor.connected(++this.#nextId, 0.25)
    const checkout = this.#monitor.acquired(performance.now() - started)
    let released = false
    return () => {
      if (released) return
      released = true
      this.#monitor.released(checkout)
      this.#idle++
      this.#queue.release()
    }
  }

  /**
   * Runs one statement the way an adapter reports it: a `query` event of `durationMillis`, in the
   * current operation.
   */
  query(durationMillis: number, operation?: string, error?: Error): void {
    this.#monitor.queried(durationMillis, operation, error, OperationContext.tryCurrent())
  }

  /** Reports an error the way an adapter does (redacted, counted, emitted). */
  fail(error: unknown): void {
    this.#monitor.error(error, 'connection')
  }

  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => void | Promise<void>): () => void {
    return this.#monitor.events.on(event, listener)
  }

  get events(): PoolEventSource {
    return this.#monitor.events
  }

  async warmup(): Promise<WarmupReport> {
    return { pool: this.name, requested: 0, opened: 0, failed: 0, durationMillis: 0 }
  }

  resize(size: PoolSize, options: ResizeOptions = {}): void {
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    this.#minSize = size.minSize ?? this.#minSize
    this.#maxSize = size.maxSize ?? this.#maxSize
    this.#queue.setLimit(this.#maxSize)
    this.#monitor.resized(previous, { minSize: this.#minSize, maxSize: this.#maxSize }, options.reason ?? 'manual', options.details)
  }

  getPoolMetrics(): PoolMetrics {
    this.metricsCalls++
    this.fullMetricsCalls++
    return this.#monitor.snapshot(this.#live())
  }

  getPoolCounters(): PoolCounters {
    this.metricsCalls++
    return this.#monitor.counters(this.#live())
  }

  #live() {
    return {
      totalConnections: this.#queue.active + this.#idle,
      activeConnections: this.#queue.active,
      idleConnections: this.#idle,
      waitingRequests: this.#queue.waiting,
      minSize: this.#minSize,
      maxSize: this.#maxSize,
      ...this.outside,
    }
  }

  async close(): Promise<void> {
    this.#state = 'closed'
    this.#queue.close()
  }
}
