// The load of autoscale-step: workloads made of phases (closed-loop clients at a concurrency, running one
// query or alternating between two), run against one Lifeguard PostgreSQL pool per setup, with the pool
// sampled every 100 ms for the plot and every resize recorded with its reason.
import { attachAutoscaler, type AutoscalePoolConfig } from '@lifeguard/autoscale'
import { createPostgresPool, type PostgresPool } from '@lifeguard/postgres'
import { performance } from 'node:perf_hooks'
import type { TimePoint } from './autoscale-step.plot.js'
import { LatencySample } from './lib/latency-sample.js'
import { pgConnection } from './lib/pg-connection.js'

const connection = pgConnection()

/** A number from the environment, `fallback` when unset; anything outside `min..max` is refused by name. */
function envNumber(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isFinite(value) || value < min || value > max) throw new RangeError(`Expected \`${name}\` to be a number from ${min} to ${max}, got \`${raw}\``)
  return value
}

/** The two queries: one that mostly waits on the server (5 ms), one that keeps its CPU busy (~1 ms). */
export const QUERIES = {
  wait: `SELECT pg_sleep(${envNumber('AUTOSCALE_WAIT_SECONDS', 0.005, 0, 10)})`,
  cpu: `SELECT count(*) FROM generate_series(1, ${Math.round(envNumber('AUTOSCALE_CPU_ROWS', 10_000, 1, 1e9))})`,
} as const
export type QueryKind = keyof typeof QUERIES

/** One stretch of closed-loop load: `queries` alternate every `switchMillis` (one query: no switching). */
export interface Phase {
  name: 'calm' | 'burst' | 'after'
  concurrency: number
  millis: number
  queries: readonly QueryKind[]
  switchMillis: number
}

export type WorkloadName = 'wait' | 'cpu' | 'shifting'

/** A workload: a label and its phases for a given phase length. */
export interface Workload {
  label: string
  description: string
  phases(phaseMillis: number): Phase[]
}

function step(query: QueryKind, millis: number): Phase[] {
  return [
    { name: 'calm', concurrency: 5, millis, queries: [query], switchMillis: millis },
    { name: 'burst', concurrency: 100, millis, queries: [query], switchMillis: millis },
    { name: 'after', concurrency: 5, millis, queries: [query], switchMillis: millis },
  ]
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  wait: { label: 'wait-bound', description: QUERIES.wait, phases: (millis) => step('wait', millis) },
  cpu: { label: 'CPU-bound', description: QUERIES.cpu, phases: (millis) => step('cpu', millis) },
  // The knee moves under the policy's feet: wait-bound and CPU-bound alternate at concurrency 100.
  shifting: {
    label: 'shifting',
    description: 'wait-bound and CPU-bound alternating',
    phases: (millis) => [
      { name: 'calm', concurrency: 5, millis, queries: ['wait'], switchMillis: millis },
      { name: 'burst', concurrency: 100, millis: 4 * millis, queries: ['wait', 'cpu'], switchMillis: millis },
      { name: 'after', concurrency: 5, millis, queries: ['wait'], switchMillis: millis },
    ],
  },
}

/** One pool setup: a fixed size, or a policy starting from `initialSize`. */
export interface Setup {
  name: string
  initialSize: number
  config?: AutoscalePoolConfig
  /** Resized by hand this long after the burst starts (no policy): the adaptive policy's first move, replayed. */
  burstResize?: { afterMillis: number; maxSize: number }
}

/** Throughput and p99 of the queries started in one stretch. */
export interface Figures {
  operations: number
  throughput: number
  p50Millis: number
  p99Millis: number
}

export interface PhaseResult extends Figures {
  name: Phase['name']
  concurrency: number
  errors: number
  connectionSeconds: number
  /** Connections the pool opened and closed during the phase (each costs the server CPU). */
  opened: number
  closed: number
  /**
   * Where the p99 comes from: the p99 of the queries started after the phase's first second (by then
   * every setup has opened the connections the phase asks for), and how many of the queries slower than
   * the phase's p99 (its slowest 1%) started within that first second.
   */
  afterFirstSecondP99Millis: number
  slowInFirstSecond: number
  /** Per stretch of one query, when the phase alternates. */
  segments?: (Figures & { query: QueryKind })[]
}

/** A resize as the pool's `resize` event told it. */
export interface Resize {
  seconds: number
  from: number
  to: number
  reason: string
  details: Readonly<Record<string, number>>
}

export interface StepRun {
  phases: PhaseResult[]
  series: TimePoint[]
  /** Seconds at which a phase or a segment ended (the last excluded). */
  boundaries: number[]
  resizes: Resize[]
  firstError: unknown
}

const TICK_MILLIS = 100
// A phase's first second: where a burst opens its connections (see `PhaseResult.slowInFirstSecond`).
const FIRST_SECOND_MILLIS = 1000

function figures(latencies: LatencySample, elapsedMillis: number): Figures {
  const summary = latencies.summary()
  return { operations: summary.count, throughput: (summary.count * 1000) / elapsedMillis, p50Millis: summary.p50Millis, p99Millis: summary.p99Millis }
}

function whereTheTailIs(all: LatencySample, firstSecond: LatencySample, afterFirstSecond: LatencySample) {
  const p99Millis = all.summary().p99Millis
  return { afterFirstSecondP99Millis: afterFirstSecond.summary().p99Millis, slowInFirstSecond: firstSecond.countAbove(p99Millis) }
}

/** Connections open and ready: checked out or idle (not those still opening). */
function readyConnections(metrics: { activeConnections: number; idleConnections: number }): number {
  return metrics.activeConnections + metrics.idleConnections
}

/** Runs the phases back to back as closed-loop load, ticking pool metrics every 100 ms. */
async function runPhases(pool: PostgresPool, phases: readonly Phase[], started: number, burstResize: Setup['burstResize']): Promise<Omit<StepRun, 'resizes'>> {
  const series: TimePoint[] = []
  const boundaries: number[] = []
  let inFlight = 0
  let completed = 0
  let lastCompleted = 0
  let lastTick = started
  let connectionMillis = 0
  let firstError: unknown
  const churn = { opened: 0, closed: 0 }
  pool.on('connect', () => void churn.opened++)
  pool.on('disconnect', () => void churn.closed++)
  const tick = setInterval(() => {
    const now = performance.now()
    const metrics = pool.getPoolMetrics()
    connectionMillis += metrics.totalConnections * (now - lastTick)
    series.push({ seconds: (now - started) / 1000, maxSize: metrics.maxSize, open: metrics.totalConnections, ready: readyConnections(metrics), inFlight, throughput: ((completed - lastCompleted) * 1000) / (now - lastTick) })
    lastCompleted = completed
    lastTick = now
  }, TICK_MILLIS)
  const results: PhaseResult[] = []
  try {
    for (const phase of phases) {
      const all = new LatencySample()
      const [firstSecond, afterFirstSecond] = [new LatencySample(), new LatencySample()]
      const segments = phase.queries.length > 1 ? Array.from({ length: Math.ceil(phase.millis / phase.switchMillis) }, () => new LatencySample()) : []
      let errors = 0
      const phaseStart = performance.now()
      const end = phaseStart + phase.millis
      if (phase.name === 'burst' && burstResize !== undefined) {
        setTimeout(() => pool.resize({ maxSize: burstResize.maxSize }, { reason: 'by-hand' }), burstResize.afterMillis)
      }
      connectionMillis = 0
      churn.opened = 0
      churn.closed = 0
      const worker = async () => {
        for (let now = performance.now(); now < end; now = performance.now()) {
          const segment = Math.floor((now - phaseStart) / phase.switchMillis)
          const query = QUERIES[phase.queries[segment % phase.queries.length] as QueryKind]
          inFlight++
          try {
            await pool.query(query)
            const millis = performance.now() - now
            all.record(millis)
            if (now - phaseStart < FIRST_SECOND_MILLIS) firstSecond.record(millis)
            else afterFirstSecond.record(millis)
            segments[segment]?.record(millis)
            completed++
          } catch (error) {
            errors++
            firstError ??= error
          } finally {
            inFlight--
          }
        }
      }
      await Promise.all(Array.from({ length: phase.concurrency }, worker))
      const elapsed = performance.now() - phaseStart
      for (let s = 1; s < segments.length; s++) boundaries.push((phaseStart - started + s * phase.switchMillis) / 1000)
      boundaries.push((performance.now() - started) / 1000)
      results.push({
        name: phase.name,
        concurrency: phase.concurrency,
        errors,
        connectionSeconds: connectionMillis / 1000,
        ...churn,
        ...figures(all, elapsed),
        ...whereTheTailIs(all, firstSecond, afterFirstSecond),
        ...(segments.length > 0
          ? { segments: segments.map((latencies, s) => ({ query: phase.queries[s % phase.queries.length] as QueryKind, ...figures(latencies, Math.min(phase.switchMillis, elapsed - s * phase.switchMillis)) })) }
          : {}),
      })
    }
  } finally {
    clearInterval(tick)
  }
  return { phases: results, series, boundaries: boundaries.slice(0, -1), firstError }
}

/**
 * Runs one setup through the phases on a fresh pool (5 connections open at the start), and closes it.
 *
 * @param trace - print every resize as it happens
 */
export async function runSetup(setup: Setup, phases: readonly Phase[], trace: boolean): Promise<StepRun> {
  const pool = createPostgresPool({
    ...connection,
    name: `step-${setup.name}`,
    applicationName: `bench-autoscale-step-${setup.name}`,
    maxSize: setup.initialSize,
    idleTimeoutMillis: 10_000,
    acquireTimeoutMillis: 30_000,
  })
  await pool.warmup({ connections: Math.min(5, setup.initialSize) })
  const started = performance.now()
  const resizes: Resize[] = []
  pool.on('resize', (e) => {
    const resize: Resize = { seconds: (performance.now() - started) / 1000, from: e.previous.maxSize, to: e.next.maxSize, reason: e.reason, details: e.details ?? {} }
    resizes.push(resize)
    // (The connections ready when the resize was decided: a verdict judged while some still opened shows here.)
    if (trace) process.stderr.write(`  ${resize.seconds.toFixed(2)}s ${resize.from} -> ${resize.to} ready ${readyConnections(pool.getPoolMetrics())} ${resize.reason} ${JSON.stringify(resize.details)}\n`)
  })
  const scaler = setup.config === undefined ? undefined : attachAutoscaler(pool, setup.config)
  try {
    const run = await runPhases(pool, phases, started, setup.burstResize)
    if (trace) traceBurstStart(run)
    return { ...run, resizes }
  } finally {
    scaler?.stop()
    await pool.close()
  }
}

// The connections ready and the throughput of the first seconds of the burst and of each switch of query
// within it, a tick apart (with --trace). (The last boundary ends the burst: the calm after it is left out.)
function traceBurstStart(run: Omit<StepRun, 'resizes'>): void {
  const starts = run.boundaries.length > 1 ? run.boundaries.slice(0, -1) : [run.boundaries[0] ?? 0]
  for (const [index, at] of starts.entries()) {
    const ticks = run.series.filter((point) => point.seconds >= at && point.seconds < at + 3)
    const label = index === 0 ? 'burst' : `switch at ${at.toFixed(1)}s`
    process.stderr.write(`  ${label}: ${ticks.map((p) => `${p.seconds.toFixed(1)}s ${p.ready}/${Math.round(p.throughput)}`).join(' ')}\n`)
  }
}
