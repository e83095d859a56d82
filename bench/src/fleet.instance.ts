// One service instance of the fleet benchmark, in a process of its own (started by fleet.bench.ts with
// an IPC channel): its own registry and PostgreSQL pool, sized fixed or by the adaptive policy under a
// shared budget, and its own load, hot (closed loop) or calm (open loop at a low rate) as the parent
// says. It reports what it served, what failed and its pool's size over time.
import { autoscale, createSharedBudget, type Autoscaler } from '@lifeguard/autoscale'
import { createPoolRegistry } from '@lifeguard/core'
import { createPostgresPool, type PostgresPool } from '@lifeguard/postgres'
import hdr from 'hdr-histogram-js'
import { performance } from 'node:perf_hooks'
import type { FromInstance, InstancePoint, InstanceResult, RunSpec, ToInstance } from './fleet.protocol.js'

const TICK_MILLIS = 100
const TOO_MANY_CONNECTIONS = '53300'

/** Milliseconds since the Unix epoch, with sub-millisecond precision; the same clock in every process. */
const wallNow = () => performance.timeOrigin + performance.now()

const send = (message: FromInstance) => process.send?.(message)

class Run {
  readonly #spec: RunSpec
  readonly #pool: PostgresPool
  readonly #registry = createPoolRegistry()
  readonly #scaler: Autoscaler | undefined
  readonly #hot = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
  readonly #calm = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 })
  readonly #series: InstancePoint[] = []
  readonly #tick: NodeJS.Timeout
  #mode: 'hot' | 'calm' = 'calm'
  #measuring = false
  #stopping = false
  #operations = 0
  #failed = 0
  #refused = 0
  #connectErrors = 0
  #resizes = 0
  #inFlight = 0
  #completed = 0
  #firstError: string | undefined
  #calmTimer: NodeJS.Timeout | undefined
  #hotWorkers = 0
  // Every query and hot worker still running, so stop() can wait for them all.
  readonly #pending = new Set<Promise<void>>()
  readonly #cpuAtStart = process.cpuUsage()

  readonly #index: number
  readonly #startedAt = wallNow()
  #lastReadingAt: number | undefined

  constructor(spec: RunSpec, index: number) {
    this.#spec = spec
    this.#index = index
    this.#pool = this.#registry.register(
      createPostgresPool({
        ...spec.connection,
        // Through PgBouncer: its address, and the pool's safeguards for transaction pooling.
        ...(spec.setup.pgbouncer === undefined ? {} : { ...spec.setup.pgbouncer, pooler: 'pgbouncer-transaction' as const }),
        name: 'main',
        applicationName: spec.applicationName,
        // Under a budget the pool keeps its floor open, so that the others' counts see it.
        minSize: spec.setup.budget?.minSize ?? 0,
        maxSize: spec.setup.maxSize,
        acquireTimeoutMillis: spec.acquireTimeoutMillis,
      }),
    )
    this.#pool.on('error', (event) => {
      if (event.source !== 'connection') return
      if ((event.error as { code?: unknown }).code === TOO_MANY_CONNECTIONS) this.#refused++
      else this.#connectErrors++
      this.#firstError ??= `${event.error.name}: ${event.error.message}`
    })
    this.#pool.on('resize', (event) => {
      this.#resizes++
      if (spec.trace) this.#trace(`${event.previous.maxSize} -> ${event.next.maxSize} ${event.reason ?? ''} ${JSON.stringify(event.details ?? {})}`)
    })
    const budget = spec.setup.budget
    if (budget !== undefined) {
      const shared = createSharedBudget({
        total: budget.total,
        maxInstances: budget.instances,
        applicationName: spec.applicationName,
        query: this.#pool,
        ...(budget.refreshMillis === undefined ? {} : { refreshMillis: budget.refreshMillis }),
      })
      const config = { policy: 'adaptive' as const, minSize: budget.minSize, maxSize: budget.maxSize, budget: shared }
      this.#scaler = autoscale(this.#registry, { pools: { main: config }, onError: (error) => this.#noteError(error) })
    }
    this.#tick = setInterval(() => this.#sample(), TICK_MILLIS)
  }

  load(mode: 'hot' | 'calm', measuring: boolean): void {
    this.#measuring = measuring
    if (mode === this.#mode && (this.#hotWorkers > 0 || this.#calmTimer !== undefined)) return
    this.#mode = mode
    if (this.#calmTimer !== undefined) clearInterval(this.#calmTimer)
    this.#calmTimer = undefined
    // Hot workers see a change to calm and end after their current query.
    if (mode === 'hot') for (let i = this.#hotWorkers; i < this.#spec.hotConcurrency; i++) this.#track(this.#worker())
    else this.#calmTimer = setInterval(() => this.#track(this.#query('calm')), 1000 / this.#spec.calmRate)
  }

  async stop(): Promise<InstanceResult> {
    this.#stopping = true
    this.#measuring = false
    if (this.#calmTimer !== undefined) clearInterval(this.#calmTimer)
    while (this.#pending.size > 0) await Promise.all(this.#pending)
    clearInterval(this.#tick)
    this.#scaler?.stop()
    await this.#registry.close()
    return {
      operations: this.#operations,
      failed: this.#failed,
      refused: this.#refused,
      connectErrors: this.#connectErrors,
      resizes: this.#resizes,
      cpuMillis: cpuMillis(process.cpuUsage(this.#cpuAtStart)),
      hot: hdr.encodeIntoCompressedBase64(this.#hot),
      calm: hdr.encodeIntoCompressedBase64(this.#calm),
      series: this.#series,
      ...(this.#firstError === undefined ? {} : { firstError: this.#firstError }),
    }
  }

  async #worker(): Promise<void> {
    this.#hotWorkers++
    try {
      while (!this.#stopping && this.#mode === 'hot') await this.#query('hot')
    } finally {
      this.#hotWorkers--
    }
  }

  #track(promise: Promise<void>): void {
    this.#pending.add(promise)
    void promise.finally(() => this.#pending.delete(promise))
  }

  async #query(kind: 'hot' | 'calm'): Promise<void> {
    const started = performance.now()
    this.#inFlight++
    try {
      await this.#pool.query(this.#spec.query)
      this.#completed++
      if (this.#measuring) {
        this.#operations++
        ;(kind === 'hot' ? this.#hot : this.#calm).recordValue(Math.max(1, Math.round((performance.now() - started) * 1000)))
      }
    } catch (error) {
      if (this.#measuring) this.#failed++
      this.#noteError(error)
    } finally {
      this.#inFlight--
    }
  }

  #noteError(error: unknown): void {
    this.#firstError ??= error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  }

  #trace(line: string): void {
    process.stderr.write(`${((wallNow() - this.#startedAt) / 1000).toFixed(2)}s #${this.#index} ${this.#mode} ${line}\n`)
  }

  #sample(): void {
    const metrics = this.#pool.getPoolMetrics()
    const reading = this.#scaler?.get('main')?.budget?.reading
    if (this.#spec.trace && reading !== undefined && reading.atMillis !== this.#lastReadingAt) {
      this.#lastReadingAt = reading.atMillis
      this.#trace(`budget held ${reading.held} own ${reading.own}+${reading.opening} free ${reading.free} limit ${reading.limit}`)
    }
    this.#series.push({
      at: wallNow(),
      maxSize: metrics.maxSize,
      open: metrics.totalConnections,
      waiting: metrics.waitingRequests,
      inFlight: this.#inFlight,
      completed: this.#completed,
      hot: this.#mode === 'hot',
    })
  }
}

function cpuMillis(usage: NodeJS.CpuUsage): number {
  return (usage.user + usage.system) / 1000
}

let run: Run | undefined

process.on('message', (message: ToInstance) => {
  switch (message.type) {
    case 'start':
      run = new Run(message.spec, message.index)
      send({ type: 'started' })
      break
    case 'load':
      run?.load(message.mode, message.measuring)
      break
    case 'stop': {
      const current = run
      run = undefined
      if (current === undefined) return
      current.stop().then(
        (result) => send({ type: 'result', result }),
        (error: unknown) => send({ type: 'failed', error: error instanceof Error ? error.message : String(error) }),
      )
      break
    }
    case 'exit':
      process.disconnect()
      break
  }
})
send({ type: 'ready' })
