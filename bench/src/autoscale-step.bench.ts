// autoscale-step: a step load (10 s at concurrency 5, 10 s at 100, 10 s at 5) on the real PostgreSQL,
// for a wait-bound query and a CPU-bound one, through Lifeguard's PostgreSQL pool sized by the threshold
// policy, by the adaptive policy, and fixed at 5, 20, 50 and 95. Prints per-phase throughput, p99 and
// connection-seconds, names the best fixed pool per workload (highest burst throughput), reports the
// policies against it, and draws the adaptive runs (pool size, in-flight load, throughput) as an SVG.
//
//   npm run bench -- autoscale-step [--quick] [--workload wait|cpu] [--only adaptive,fixed-50] [--rounds N] [--trace]
//
// With --rounds N every setup runs N times, in a rotated order each round, and the figures are medians:
// on a shared machine a single 30 s run can land in a busy moment.
import { attachAutoscaler, type AutoscalePoolConfig } from '@lifeguard/autoscale'
import { createPostgresPool, type PostgresPool } from '@lifeguard/postgres'
import { mkdir, writeFile } from 'node:fs/promises'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { renderStepPlot, type PlotPanel, type TimePoint } from './autoscale-step.plot.js'
import { LatencySample } from './lib/latency-sample.js'
import { byMode, isQuick } from './lib/quick.js'
import { compare, report, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

const connection = {
  host: process.env['PGHOST'] || '127.0.0.1',
  port: Number(process.env['PGPORT'] || 5432),
  user: process.env['PGUSER'] || 'postgres',
  database: process.env['PGDATABASE'] || 'test',
  ...(process.env['PGPASSWORD'] ? { password: process.env['PGPASSWORD'] } : {}),
}

const WORKLOADS = {
  // Mostly waiting on the server: more connections keep paying off.
  wait: { label: 'wait-bound', query: 'SELECT pg_sleep(0.005)' },
  // ~1 ms of server CPU per query: on a small machine the server peaks at a few active connections.
  cpu: { label: 'CPU-bound', query: `SELECT count(*) FROM generate_series(1, ${Number(process.env['AUTOSCALE_CPU_ROWS'] || 10_000)})` },
} as const
type WorkloadName = keyof typeof WORKLOADS

const FIXED_SIZES = [5, 20, 50, 95] as const
const THRESHOLD: AutoscalePoolConfig = {
  enabled: true,
  minSize: 5,
  maxSize: 95,
  scaleUpThreshold: 80,
  scaleDownThreshold: 30,
  scaleUpIncrement: 10,
  scaleDownIncrement: 5,
  evaluationInterval: 1000,
}
const ADAPTIVE: AutoscalePoolConfig = { policy: 'adaptive', minSize: 2, maxSize: 95 }

interface Setup {
  name: string
  /** Pool size at the start. */
  initialSize: number
  config?: AutoscalePoolConfig
}

const SETUPS: Setup[] = [
  ...FIXED_SIZES.map((size) => ({ name: `fixed-${size}`, initialSize: size })),
  { name: 'threshold', initialSize: 10, config: THRESHOLD },
  { name: 'adaptive', initialSize: 10, config: ADAPTIVE },
]

interface Phase {
  name: 'calm' | 'burst' | 'after'
  concurrency: number
  millis: number
}

interface PhaseResult {
  name: Phase['name']
  concurrency: number
  operations: number
  errors: number
  throughput: number
  p50Millis: number
  p99Millis: number
  connectionSeconds: number
}

interface RunResult {
  setup: string
  workload: WorkloadName
  phases: PhaseResult[]
  series: TimePoint[]
  boundaries: number[]
  firstError: unknown
}

const TICK_MILLIS = 100

/** Runs the phases back to back as closed-loop load, ticking pool metrics every 100 ms. */
async function runStep(pool: PostgresPool, query: string, phases: readonly Phase[]): Promise<Omit<RunResult, 'setup' | 'workload'>> {
  const started = performance.now()
  const series: TimePoint[] = []
  const boundaries: number[] = []
  let inFlight = 0
  let completed = 0
  let lastCompleted = 0
  let lastTick = started
  let connectionMillis = 0
  let firstError: unknown
  const tick = setInterval(() => {
    const now = performance.now()
    const metrics = pool.getPoolMetrics()
    connectionMillis += metrics.totalConnections * (now - lastTick)
    series.push({
      seconds: (now - started) / 1000,
      maxSize: metrics.maxSize,
      open: metrics.totalConnections,
      inFlight,
      throughput: ((completed - lastCompleted) * 1000) / (now - lastTick),
    })
    lastCompleted = completed
    lastTick = now
  }, TICK_MILLIS)
  const results: PhaseResult[] = []
  try {
    for (const phase of phases) {
      const latencies = new LatencySample()
      let errors = 0
      const phaseStart = performance.now()
      const end = phaseStart + phase.millis
      connectionMillis = 0
      const worker = async () => {
        while (performance.now() < end) {
          const start = performance.now()
          inFlight++
          try {
            await pool.query(query)
            latencies.record(performance.now() - start)
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
      const summary = latencies.summary()
      boundaries.push((performance.now() - started) / 1000)
      results.push({
        name: phase.name,
        concurrency: phase.concurrency,
        operations: summary.count,
        errors,
        throughput: (summary.count * 1000) / elapsed,
        p50Millis: summary.p50Millis,
        p99Millis: summary.p99Millis,
        connectionSeconds: connectionMillis / 1000,
      })
    }
  } finally {
    clearInterval(tick)
  }
  return { phases: results, series, boundaries: boundaries.slice(0, -1), firstError }
}

async function runSetup(setup: Setup, workload: WorkloadName, phases: readonly Phase[]): Promise<RunResult> {
  const pool = createPostgresPool({
    ...connection,
    name: `step-${setup.name}`,
    applicationName: `bench-autoscale-step-${setup.name}`,
    maxSize: setup.initialSize,
    idleTimeoutMillis: 10_000,
    acquireTimeoutMillis: 30_000,
  })
  await pool.warmup({ connections: Math.min(5, setup.initialSize) })
  if (process.argv.includes('--trace')) {
    const started = performance.now()
    pool.on('resize', (e) => {
      const seconds = ((performance.now() - started) / 1000).toFixed(2)
      process.stderr.write(`  ${seconds}s ${e.previous.maxSize} -> ${e.next.maxSize} ${e.reason} ${JSON.stringify(e.details ?? {})}\n`)
    })
  }
  const scaler = setup.config === undefined ? undefined : attachAutoscaler(pool, setup.config)
  try {
    const run = await runStep(pool, WORKLOADS[workload].query, phases)
    return { setup: setup.name, workload, ...run }
  } finally {
    scaler?.stop()
    await pool.close()
  }
}

function parseArgs(): { workloads: WorkloadName[]; setups: Setup[]; rounds: number } {
  const args = process.argv.slice(2)
  const value = (flag: string) => {
    const index = args.indexOf(flag)
    return index >= 0 ? args[index + 1] : undefined
  }
  const workload = value('--workload')
  const only = value('--only')?.split(',')
  const rounds = Number(value('--rounds') ?? 1)
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`Expected \`--rounds\` to be an integer >= 1, got \`${value('--rounds')}\``)
  return {
    workloads: workload === undefined ? ['wait', 'cpu'] : [workload as WorkloadName],
    setups: only === undefined ? SETUPS : SETUPS.filter((s) => only.includes(s.name)),
    rounds,
  }
}

/** One result per workload and setup: the median of each phase figure over the rounds, the last round's series. */
function mergeRounds(runs: readonly RunResult[]): RunResult[] {
  const groups = new Map<string, RunResult[]>()
  for (const run of runs) {
    const key = `${run.workload}/${run.setup}`
    groups.set(key, [...(groups.get(key) ?? []), run])
  }
  return [...groups.values()].map((group) => {
    const last = group[group.length - 1] as RunResult
    const phases = last.phases.map((phase, index) => {
      const all = group.map((run) => run.phases[index] as PhaseResult)
      const mid = (pick: (p: PhaseResult) => number) => median(all.map(pick))
      return {
        ...phase,
        operations: mid((p) => p.operations),
        errors: all.reduce((sum, p) => sum + p.errors, 0),
        throughput: mid((p) => p.throughput),
        p50Millis: mid((p) => p.p50Millis),
        p99Millis: mid((p) => p.p99Millis),
        connectionSeconds: mid((p) => p.connectionSeconds),
      }
    })
    return { ...last, phases }
  })
}

function phaseTable(results: readonly RunResult[]): string {
  const lines = ['workload    setup       phase  conc    q/s   p99 ms  conn-s  errors']
  for (const run of results) {
    for (const phase of run.phases) {
      lines.push(
        [
          WORKLOADS[run.workload].label.padEnd(10),
          run.setup.padEnd(10),
          phase.name.padEnd(5),
          String(phase.concurrency).padStart(5),
          phase.throughput.toFixed(0).padStart(6),
          phase.p99Millis.toFixed(1).padStart(8),
          phase.connectionSeconds.toFixed(0).padStart(7),
          String(phase.errors).padStart(7),
        ].join('  '),
      )
    }
  }
  return lines.join('\n') + '\n'
}

function rowsFor(workload: WorkloadName, results: readonly RunResult[]): ReportRow[] {
  const burst = (run: RunResult) => run.phases.find((p) => p.name === 'burst') as PhaseResult
  const fixed = results.filter((r) => r.workload === workload && r.setup.startsWith('fixed-'))
  if (fixed.length === 0) return []
  const best = fixed.reduce((a, b) => (burst(b).throughput > burst(a).throughput ? b : a))
  const label = WORKLOADS[workload].label
  process.stdout.write(`Best fixed pool for the ${label} workload: ${best.setup} (${burst(best).throughput.toFixed(0)} q/s in the burst)\n`)
  const rows: ReportRow[] = []
  for (const run of results.filter((r) => r.workload === workload && r.setup !== best.setup)) {
    const name = run.setup.replace('fixed-', 'fixed ')
    rows.push(
      compare({ case: `${name} ${label} burst throughput`, metric: 'queries/s', value: burst(run).throughput, baseline: 'best fixed', baselineValue: burst(best).throughput, better: 'higher' }),
      compare({ case: `${name} ${label} burst p99`, metric: 'p99 latency (ms)', value: burst(run).p99Millis, baseline: 'best fixed', baselineValue: burst(best).p99Millis, better: 'lower' }),
    )
  }
  // The policies first, as the issue lists them.
  return rows.sort((a, b) => rank(a.case) - rank(b.case))
}

/** Each setup's worst ratio over both workloads and both burst metrics (the best fixed pool counts as 1). */
function worstRatios(rows: readonly ReportRow[]): string {
  const worst = new Map<string, number>()
  for (const row of rows) {
    const setup = row.case.split(' ').slice(0, row.case.startsWith('fixed') ? 2 : 1).join(' ')
    worst.set(setup, Math.min(worst.get(setup) ?? 1, row.ratio))
  }
  const lines = [...worst].map(([setup, ratio]) => `  ${setup.padEnd(10)} ${ratio.toFixed(3)}x`)
  return `Worst burst ratio against the best fixed pool, over both workloads:\n${lines.join('\n')}\n`
}

function rank(name: string): number {
  return name.startsWith('adaptive') ? 0 : name.startsWith('threshold') ? 1 : 2
}

async function main(): Promise<void> {
  const { workloads, setups, rounds } = parseArgs()
  const phaseMillis = byMode({ full: 10_000, quick: 1000 })
  const phases: Phase[] = [
    { name: 'calm', concurrency: 5, millis: phaseMillis },
    { name: 'burst', concurrency: 100, millis: phaseMillis },
    { name: 'after', concurrency: 5, millis: phaseMillis },
  ]
  const runs: RunResult[] = []
  for (let round = 0; round < rounds; round++) {
    for (const workload of workloads) {
      // Rotated each round, so a busy moment of the machine does not always land on the same setup.
      const order = setups.map((_, i) => setups[(i + round) % setups.length] as Setup)
      for (const setup of order) {
        process.stderr.write(`${rounds > 1 ? `round ${round + 1}/${rounds}, ` : ''}${WORKLOADS[workload].label}: ${setup.name}...\n`)
        const run = await runSetup(setup, workload, phases)
        runs.push(run)
        const errors = run.phases.reduce((sum, p) => sum + p.errors, 0)
        if (errors > 0) process.stderr.write(`  ${errors} request(s) failed, first: ${String(run.firstError)}\n`)
        // Let the server finish closing the pool's backends before the next run.
        await new Promise((resolve) => setTimeout(resolve, byMode({ full: 1000, quick: 100 })))
      }
    }
  }
  const results = mergeRounds(runs)
  process.stdout.write(`\n${rounds > 1 ? `Medians over ${rounds} rounds.\n` : ''}${phaseTable(results)}\n`)
  const rows = workloads.flatMap((w) => rowsFor(w, results))
  await report('autoscale-step', rows)
  process.stdout.write(`\n${worstRatios(rows)}`)

  const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))
  await mkdir(resultsDir, { recursive: true })
  await writeFile(`${resultsDir}autoscale-step.phases.json`, JSON.stringify(results.map(({ series: _series, firstError: _e, ...run }) => run), null, 2) + '\n')
  const panels: PlotPanel[] = results
    .filter((r) => r.setup === 'adaptive')
    .map((r) => ({ title: `adaptive policy, ${WORKLOADS[r.workload].label} (${WORKLOADS[r.workload].query})`, series: r.series, boundaries: r.boundaries }))
  if (panels.length > 0) {
    // Only a complete run replaces the recorded plot; --quick, --workload and --only runs write theirs to results/.
    const complete = !isQuick() && workloads.length === Object.keys(WORKLOADS).length && setups.length === SETUPS.length
    const file = fileURLToPath(new URL(complete ? '../autoscale-step.svg' : '../results/autoscale-step.svg', import.meta.url))
    await writeFile(file, renderStepPlot(panels, `autoscale-step, node ${process.version}, ${new Date().toISOString().slice(0, 10)}`))
    process.stdout.write(`Wrote ${file.slice(file.indexOf('bench/'))}\n`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
