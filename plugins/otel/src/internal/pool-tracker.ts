import type { Attributes, BatchObservableResult, Histogram } from '@opentelemetry/api'
import { OperationContext, type ManagedPool, type PoolCounters, type PoolErrorEvent } from '@lifeguard/core'
import { attributeNames } from '../semantic-conventions.js'
import type { PoolInstruments } from './pool-instruments.js'
import { QueryAttributes } from './query-attributes.js'
import { SampleBuffer } from './sample-buffer.js'

// The conventions' `db.system.name` values for the kinds Lifeguard ships; other kinds pass through.
const systemNames: Readonly<Record<string, string>> = { postgres: 'postgresql', postgresql: 'postgresql', mongodb: 'mongodb' }
// Every value the counters' extra attributes take, so that each series exists (at 0) from the start.
const errorSources: readonly PoolErrorEvent['source'][] = ['connection', 'idle-connection', 'pool', 'listener']
const resizeDirections = ['grow', 'shrink', 'same'] as const
const maxNamespaces = 100

/**
 * The instrumentation of one pool: its own attribute sets and event listeners, so two pools (of the
 * same kind or not) never share state. Every attribute value comes from the pool's name and kind, the
 * operation's handler and operation names, the adapter's statement kinds, error codes or class names, or a
 * fixed set of words: never from its target, statements or error messages.
 */
export class PoolTracker {
  readonly pool: ManagedPool
  /** The pool's `db.client.connection.pool.name`: its registry name, after the instrumentation's prefix. */
  readonly name: string
  readonly #instruments: PoolInstruments
  readonly #pool: Attributes
  readonly #used: Attributes
  readonly #idle: Attributes
  readonly #parked: Attributes
  readonly #closing: Attributes
  readonly #exhausted: Attributes
  readonly #aborted: Attributes
  // Set once the pool reported parked or closing connections, so that its closing report zeroes those series.
  #reportsParked = false
  #reportsClosing = false
  // The attribute sets of statements, by the database they ran in (`db.namespace`), `undefined` when unknown.
  readonly #queries = new Map<string | undefined, QueryAttributes>()
  readonly #queryBase: Attributes
  // Scrapes read counters only: no window is sorted for a reading that uses none of its percentiles.
  readonly #read: () => PoolCounters
  readonly #unsubscribe: (() => void)[] = []
  readonly #buffers: SampleBuffer[] = []
  // What pools reported before under this name (see `RejectionTotals`), added to this one's own counts.
  readonly #before: RejectionTotals
  // This pool's own counts as last observed.
  #exhaustedSeen = 0
  #abortedSeen = 0

  /**
   * @param name - the pool's `db.client.connection.pool.name`
   * @param routeAttributes - label operation durations with the operation that ran them
   * @param before - the rejections pools reported before under `name` (a pool replaced under its name)
   */
  constructor(pool: ManagedPool, name: string, instruments: PoolInstruments, routeAttributes: boolean, before: RejectionTotals = noRejections) {
    this.pool = pool
    this.#before = before
    this.name = name
    this.#instruments = instruments
    this.#pool = { [attributeNames.poolName]: name }
    this.#used = { [attributeNames.poolName]: name, [attributeNames.connectionState]: 'used' }
    this.#idle = { [attributeNames.poolName]: name, [attributeNames.connectionState]: 'idle' }
    this.#parked = { [attributeNames.poolName]: name, [attributeNames.outsideConnectionState]: 'parked' }
    this.#closing = { [attributeNames.poolName]: name, [attributeNames.outsideConnectionState]: 'closing' }
    this.#exhausted = { [attributeNames.poolName]: name, [attributeNames.rejectionReason]: 'exhausted' }
    this.#aborted = { [attributeNames.poolName]: name, [attributeNames.rejectionReason]: 'aborted' }
    this.#queryBase = { [attributeNames.poolName]: name, [attributeNames.systemName]: systemNames[pool.kind] ?? pool.kind }
    this.#read = typeof pool.getPoolCounters === 'function' ? () => (pool.getPoolCounters as () => PoolCounters).call(pool) : () => pool.getPoolMetrics()
    try {
      this.#listen(routeAttributes)
    } catch (error) {
      // A pool that refuses a listener (one built on another copy of core, say): nothing stays attached.
      this.detach()
      throw error
    }
  }

  /** Reports the pool's live numbers; false once the pool is closed (the caller then drops it). */
  observe(result: BatchObservableResult): boolean {
    this.flush()
    if (this.pool.state === 'closed') {
      this.observeClosed(result)
      return false
    }
    const metrics = this.#read()
    const instruments = this.#instruments
    result.observe(instruments.connectionCount, metrics.activeConnections, this.#used)
    result.observe(instruments.connectionCount, metrics.idleConnections, this.#idle)
    // Neither pg.Pool nor the MongoDB driver caps idle connections apart from the pool size.
    result.observe(instruments.idleMax, metrics.maxSize, this.#pool)
    result.observe(instruments.idleMin, metrics.minSize, this.#pool)
    result.observe(instruments.limit, metrics.maxSize, this.#pool)
    result.observe(instruments.pendingRequests, metrics.waitingRequests, this.#pool)
    // Absent means the pool cannot tell (the MongoDB driver owns its connections): no series rather than a false 0.
    if (metrics.parkedConnections !== undefined) {
      this.#reportsParked = true
      result.observe(instruments.outsideConnections, metrics.parkedConnections, this.#parked)
    }
    if (metrics.closingConnections !== undefined) {
      this.#reportsClosing = true
      result.observe(instruments.outsideConnections, metrics.closingConnections, this.#closing)
    }
    if (metrics.rejectedRequests !== undefined) {
      this.#exhaustedSeen = metrics.rejectedRequests
      result.observe(instruments.rejections, this.#before.exhausted + metrics.rejectedRequests, this.#exhausted)
    }
    if (metrics.abandonedWaits !== undefined) {
      this.#abortedSeen = metrics.abandonedWaits
      result.observe(instruments.rejections, this.#before.aborted + metrics.abandonedWaits, this.#aborted)
    }
    return true
  }

  /**
   * The rejections reported under this name so far, this pool's as last observed: where the next pool of the
   * name starts counting, so that the counter never goes back. (Not read from the pool: a pool dropped is read
   * no more. Rejections after its last collection go unreported, as they would have without a next pool.)
   */
  rejectionTotals(): RejectionTotals {
    return { exhausted: this.#before.exhausted + this.#exhaustedSeen, aborted: this.#before.aborted + this.#abortedSeen }
  }

  /** This pool's own rejections as last observed. */
  ownRejections(): RejectionTotals {
    return { exhausted: this.#exhaustedSeen, aborted: this.#abortedSeen }
  }

  /**
   * Reports a closed pool one last time, as what it is now: no connections, none allowed, nobody waiting.
   * The JS SDK keeps exporting an attribute set's last observed value under cumulative temporality after
   * its callback stops observing it (opentelemetry-js#4096), so without this a closed pool would show its
   * last live numbers forever.
   */
  observeClosed(result: BatchObservableResult): void {
    this.closedReport()(result)
  }

  /**
   * `observeClosed` for later, holding the attribute sets only: kept until the next collection (which may
   * never come: a provider without a reader), it must not keep the pool, and with it its driver, alive.
   */
  closedReport(): (result: BatchObservableResult) => void {
    const instruments = this.#instruments
    const [used, idle, pool] = [this.#used, this.#idle, this.#pool]
    const parked = this.#reportsParked ? this.#parked : undefined
    const closing = this.#reportsClosing ? this.#closing : undefined
    return (result) => {
      result.observe(instruments.connectionCount, 0, used)
      result.observe(instruments.connectionCount, 0, idle)
      result.observe(instruments.idleMax, 0, pool)
      result.observe(instruments.idleMin, 0, pool)
      result.observe(instruments.limit, 0, pool)
      result.observe(instruments.pendingRequests, 0, pool)
      if (parked !== undefined) result.observe(instruments.outsideConnections, 0, parked)
      if (closing !== undefined) result.observe(instruments.outsideConnections, 0, closing)
    }
  }

  /** Records the samples held back so far. */
  flush(): void {
    for (const buffer of this.#buffers) buffer.flush()
  }

  /** Removes every listener this tracker added to the pool and records what it held back. Idempotent. */
  detach(): void {
    for (const unsubscribe of this.#unsubscribe.splice(0)) unsubscribe()
    this.flush()
  }

  #queriesIn(namespace: string | undefined): QueryAttributes {
    let queries = this.#queries.get(namespace)
    if (queries === undefined) {
      queries = new QueryAttributes(namespace === undefined ? this.#queryBase : { ...this.#queryBase, [attributeNames.namespace]: namespace })
      // Bounded like each set's own cache: a pool that runs in many databases still records every statement.
      if (this.#queries.size < maxNamespaces) this.#queries.set(namespace, queries)
    }
    return queries
  }

  #listen(routeAttributes: boolean): void {
    const pool = this.pool
    const instruments = this.#instruments
    const attributes = this.#pool
    const on = this.#unsubscribe
    const buffer = (histogram: Histogram): SampleBuffer => {
      const created = new SampleBuffer(histogram)
      this.#buffers.push(created)
      return created
    }
    const waitTime = buffer(instruments.waitTime)
    const useTime = buffer(instruments.useTime)
    const operationDuration = instruments.operationDuration === undefined ? undefined : buffer(instruments.operationDuration)
    on.push(pool.events.on('connect', (event) => instruments.createTime.record(event.createMillis / 1000, attributes)))
    on.push(pool.events.on('acquire', (event) => waitTime.add(event.waitMillis / 1000, attributes)))
    on.push(pool.events.on('release', (event) => useTime.add(event.useMillis / 1000, attributes)))
    if (operationDuration !== undefined) {
      const queries = (namespace: string | undefined): QueryAttributes => this.#queriesIn(namespace)
      on.push(
        pool.events.on(
          'query',
          routeAttributes
            ? // Core runs `query` listeners inside the operation that ran the statement.
              (event) => operationDuration.add(event.durationMillis / 1000, queries(event.namespace).of(OperationContext.tryCurrent(), event.operation, event.error))
            : (event) => operationDuration.add(event.durationMillis / 1000, queries(event.namespace).of(undefined, event.operation, event.error)),
        ),
      )
    }
    on.push(pool.events.on('timeout', () => instruments.timeouts.add(1, attributes)))
    const bySource = new Map<string, Attributes>(errorSources.map((source) => [source, { ...attributes, [attributeNames.errorSource]: source }]))
    on.push(
      pool.events.on('error', (event) => {
        let errorAttributes = bySource.get(event.source)
        if (errorAttributes === undefined) {
          errorAttributes = { ...attributes, [attributeNames.errorSource]: event.source }
          bySource.set(event.source, errorAttributes)
        }
        instruments.errors.add(1, errorAttributes)
      }),
    )
    on.push(
      pool.events.on('leak', (event) => {
        if (event.state === 'suspected') instruments.leaks.add(1, attributes)
      }),
    )
    on.push(
      pool.events.on('resize', (event) => {
        const change = event.next.maxSize - event.previous.maxSize
        const direction = change > 0 ? 'grow' : change < 0 ? 'shrink' : 'same'
        instruments.resizes.add(1, { ...attributes, [attributeNames.resizeDirection]: direction })
      }),
    )

    // A counter series appears with its first increment, so rate() and increase() (and alert rules built
    // on them) would miss that first timeout or error: every counter of the pool starts at 0 instead.
    instruments.timeouts.add(0, attributes)
    instruments.leaks.add(0, attributes)
    for (const errorAttributes of bySource.values()) instruments.errors.add(0, errorAttributes)
    for (const direction of resizeDirections) instruments.resizes.add(0, { ...attributes, [attributeNames.resizeDirection]: direction })
  }
}

/**
 * `lifeguard.pool.rejections` under one pool name, by reason. The observable counter reports each pool's own
 * lifetime count: a pool replaced under its name (closed, and a new one registered) would start again from 0,
 * which reads as a reset (cumulative) or a negative delta on a monotonic sum. The next pool adds these.
 */
export interface RejectionTotals {
  readonly exhausted: number
  readonly aborted: number
}

const noRejections: RejectionTotals = { exhausted: 0, aborted: 0 }
