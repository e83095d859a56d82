import {
  PoolWarmupError,
  type ManagedPool,
  type PoolEventMap,
  type PoolEventName,
  type PoolCounters,
  type PoolEventSource,
  type PoolMetrics,
  type PoolSize,
  type PoolState,
  type ResizeOptions,
  type WarmupOptions,
  type WarmupReport,
} from '../../src/index.js'
import {
  PoolMonitor,
} from '../../src/adapter.js'

/** How a `FakePool` behaves. */
export interface FakePoolOptions {
  kind?: string
  minSize?: number
  maxSize?: number
  /** `warmup()` waits for this before it reports. */
  warmupGate?: Promise<void>
  /** `warmup()` fails with a `PoolWarmupError` caused by this. */
  warmupError?: Error
  /** `close()` waits for this before it finishes. */
  closeGate?: Promise<void>
  /** `close()` fails with this. */
  closeError?: Error
}

/**
 * An in-memory pool that honours the `ManagedPool` contract and records every call. Used only where the
 * contract itself is under test (the registry); it opens no connection.
 */
export class FakePool implements ManagedPool {
  readonly name: string
  readonly kind: string
  readonly target: string
  readonly monitor: PoolMonitor
  readonly calls: { warmup: (WarmupOptions | undefined)[]; close: ({ timeoutMillis?: number } | undefined)[]; resize: PoolSize[] } = {
    warmup: [],
    close: [],
    resize: [],
  }
  #state: PoolState = 'created'
  #minSize: number
  #maxSize: number
  #open = 0
  readonly #options: FakePoolOptions

  constructor(name: string, options: FakePoolOptions = {}) {
    this.name = name
    this.kind = options.kind ?? 'fake'
    this.target = `fake://app@memory/${name}`
    this.#options = options
    this.#minSize = options.minSize ?? 1
    this.#maxSize = options.maxSize ?? 10
    this.monitor = new PoolMonitor({ name, kind: this.kind, target: this.target })
  }

  get state(): PoolState {
    return this.#state
  }

  async warmup(options?: WarmupOptions): Promise<WarmupReport> {
    this.calls.warmup.push(options)
    this.#state = 'warming'
    const started = performance.now()
    await this.#options.warmupGate
    const requested = options?.connections ?? Math.max(1, this.#minSize)
    if (this.#options.warmupError !== undefined) {
      this.#state = 'created'
      throw new PoolWarmupError(this.name, this.target, 'No connection could be opened.', { cause: this.#options.warmupError })
    }
    this.#open = requested
    this.#state = 'ready'
    return { pool: this.name, requested, opened: requested, failed: 0, durationMillis: performance.now() - started }
  }

  resize(size: PoolSize, options?: ResizeOptions): void {
    this.calls.resize.push(size)
    const previous = { minSize: this.#minSize, maxSize: this.#maxSize }
    this.#minSize = size.minSize ?? this.#minSize
    this.#maxSize = size.maxSize ?? this.#maxSize
    this.monitor.resized(previous, { minSize: this.#minSize, maxSize: this.#maxSize }, options?.reason ?? 'manual')
  }

  getPoolMetrics(): PoolMetrics {
    return this.monitor.snapshot(this.#live())
  }

  getPoolCounters(): PoolCounters {
    return this.monitor.counters(this.#live())
  }

  #live() {
    return { totalConnections: this.#open, activeConnections: 0, idleConnections: this.#open, waitingRequests: 0, minSize: this.#minSize, maxSize: this.#maxSize }
  }

  on<E extends PoolEventName>(event: E, listener: (event: PoolEventMap[E]) => void | Promise<void>): () => void {
    return this.monitor.events.on(event, listener)
  }

  get events(): PoolEventSource {
    return this.monitor.events
  }

  async close(options?: { timeoutMillis?: number }): Promise<void> {
    this.calls.close.push(options)
    this.#state = 'closing'
    await this.#options.closeGate
    this.#open = 0
    this.#state = 'closed'
    if (this.#options.closeError !== undefined) throw this.#options.closeError
  }
}
