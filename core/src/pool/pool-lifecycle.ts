import { checkCloseOptions, checkWarmupOptions, resolveResize, type SizeBounds } from '../call-options.js'
import { PoolClosedError } from '../errors.js'
import type { PoolSize, PoolState, ResizeOptions, WarmupOptions, WarmupReport } from '../pool-contract.js'

/** What `PoolLifecycle.warmup` asks the pool to do once the call is checked. */
export interface WarmupPlan {
  /** Connections to open: the number asked, else `minSize` (at least 1). */
  readonly connections: number
  /** The time the warm-up may take: the one asked, else the pool's default. */
  readonly timeoutMillis: number
}

/**
 * The lifecycle every pool shares, whatever its driver: `created` -> `warming` -> `ready`, then `closing`
 * -> `closed`; the checks of `warmup()`, `resize()` and `close()` (the same `InvalidOptionError`s and
 * `PoolClosedError`s for every database, and `close()` always answering with a promise); one `close()`
 * however often it is called. The pool supplies only the work itself.
 *
 * @example
 * readonly #lifecycle = new PoolLifecycle('orders')
 * warmup(options) { return this.#lifecycle.warmup(options, { minSize, maxSize, timeoutMillis }, (plan) => this.#open(plan)) }
 */
export class PoolLifecycle {
  readonly #pool: string
  #state: PoolState = 'created'
  #closing: Promise<void> | undefined

  constructor(pool: string) {
    this.#pool = pool
  }

  /** `created`, `warming`, `ready` (after `warmup()`), `closing` or `closed`. */
  get state(): PoolState {
    return this.#state
  }

  /** True once `close()` was called, from its first synchronous step on. */
  get closing(): boolean {
    return this.#state === 'closing' || this.#state === 'closed'
  }

  /**
   * @throws {PoolClosedError} once the pool is closing, naming what could not be done
   */
  assertOpen(action: string): void {
    if (this.closing) throw new PoolClosedError(this.#pool, action)
  }

  /**
   * Checks the call, marks the pool `warming`, runs the warm-up, and marks it `ready`, or back to where it
   * was when `run` fails (with a `PoolWarmupError`, say).
   *
   * @throws {InvalidOptionError} for bad options
   * @throws {PoolClosedError} once the pool is closing
   */
  async warmup(options: WarmupOptions | undefined, pool: SizeBounds & { timeoutMillis: number }, run: (plan: WarmupPlan) => Promise<WarmupReport>): Promise<WarmupReport> {
    checkWarmupOptions('warmup', options, pool.maxSize)
    this.assertOpen('warm up')
    const previous = this.#state
    this.#state = 'warming'
    try {
      const report = await run({ connections: options?.connections ?? Math.max(1, pool.minSize), timeoutMillis: options?.timeoutMillis ?? pool.timeoutMillis })
      this.assertOpen('warm up')
      this.#state = 'ready'
      return report
    } catch (error) {
      if (this.#state === 'warming') this.#state = previous === 'warming' ? 'created' : previous
      // Closed while it warmed up: said so, however far the attempts had got (their failure is the close's).
      this.assertOpen('warm up')
      throw error
    }
  }

  /**
   * Checks a `resize()` call; returns the new bounds, or undefined when nothing changes.
   *
   * @param limit - the highest `maxSize` the pool accepts, if it has one
   * @throws {InvalidOptionError} for a bad size
   * @throws {PoolClosedError} once the pool is closing
   */
  resize(current: SizeBounds, size: PoolSize, options: ResizeOptions | undefined, limit?: number): SizeBounds | undefined {
    const next = resolveResize('resize', current, size, options, limit)
    this.assertOpen('resize')
    return next.minSize === current.minSize && next.maxSize === current.maxSize ? undefined : next
  }

  /**
   * Checks the call and runs the pool's close once: later calls get the same promise, and one that asks for a
   * shorter timeout than the close under way has it `shorten` the wait (a close without limit, pg.Pool's
   * `end()`, then a shutdown's `close({ timeoutMillis })`). A bad option is a rejection, as every failure of
   * `close()` is.
   */
  close(options: { timeoutMillis?: number | undefined } | undefined, run: (timeoutMillis: number) => Promise<void>, shorten?: (timeoutMillis: number) => void): Promise<void> {
    try {
      checkCloseOptions('close', options)
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.#closing !== undefined) {
      if (options?.timeoutMillis !== undefined) shorten?.(options.timeoutMillis)
      return this.#closing
    }
    this.#closing = this.#close(options?.timeoutMillis ?? 10_000, run)
    return this.#closing
  }

  // The pool's work starts in this call's synchronous part, so `closing` must already be true by then
  // (else a pool that closes its idle connections would open new ones to keep minSize).
  async #close(timeoutMillis: number, run: (timeoutMillis: number) => Promise<void>): Promise<void> {
    this.#state = 'closing'
    try {
      await run(timeoutMillis)
    } finally {
      this.#state = 'closed'
    }
  }
}
