// http-overhead: what Lifeguard's middleware costs a request on Express, Koa and Hono, against the floor any
// context library pays (a bare `als.run(store, next)` middleware) and against awilix with ALS and a scope
// disposed per request. Each sample is a fresh server pinned to core 0, loaded by autocannon pinned to core 1
// (50 connections, a discarded warm-up, then the measured run); cases run in interleaved rounds and every
// figure is the median over rounds. The steady figure is the server's CPU time per request: on two cores the
// load generator can be the bottleneck, so requests per second move with it.
//
//   npm run bench -- http-overhead [--quick] [--frameworks express,koa] [--seconds 10] [--rounds 5]
import { loadavg, cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { runAutocannonPinned, spawnPinnedServer, type PinnedLoadResult } from './lib/http-load.js'
import { interleave, type BenchCase } from './lib/interleave.js'
import { byMode } from './lib/quick.js'
import { compare, report, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

const SERVER = fileURLToPath(new URL('./http-overhead.server.ts', import.meta.url))
const FRAMEWORKS = ['express', 'koa', 'hono'] as const
const VARIANTS = ['bare', 'als-only', 'lifeguard', 'awilix'] as const
type Framework = (typeof FRAMEWORKS)[number]
type Variant = (typeof VARIANTS)[number]

/** The ratios the issue asks for: Lifeguard's CPU per request against each baseline's. */
const TARGETS: Record<Framework, Record<'als-only' | 'awilix', number>> = {
  express: { 'als-only': 0.95, awilix: 1.15 },
  koa: { 'als-only': 0.95, awilix: 1.3 },
  hono: { 'als-only': 0.95, awilix: 1.3 },
}

const { values: args } = parseArgs({
  options: {
    frameworks: { type: 'string' },
    seconds: { type: 'string' },
    rounds: { type: 'string' },
  },
})
const frameworks = (args.frameworks?.split(',') ?? [...FRAMEWORKS]) as Framework[]
for (const framework of frameworks) {
  if (!FRAMEWORKS.includes(framework)) throw new RangeError(`Unknown framework '${framework}'. Known: ${FRAMEWORKS.join(', ')}.`)
}
const durationMillis = args.seconds === undefined ? byMode({ full: 10_000, quick: 400 }) : Number(args.seconds) * 1000
const warmupMillis = byMode({ full: 2000, quick: 200 })
const rounds = args.rounds === undefined ? 5 : Number(args.rounds)

interface Sample {
  cpuMicrosPerRequest: number
  requestsPerSec: number
  p99Millis: number
}

const samples = new Map<string, Sample[]>()
const key = (framework: Framework, variant: Variant): string => `${framework} ${variant}`

async function measure(framework: Framework, variant: Variant): Promise<number> {
  const server = await spawnPinnedServer(SERVER, [framework, variant], 0)
  let result: PinnedLoadResult
  try {
    result = await runAutocannonPinned({ url: `${server.url}/orders/42`, server, connections: 50, durationMillis, warmupMillis, core: 1 })
  } finally {
    await server.close()
  }
  const cpuMicrosPerRequest = result.cpuMicrosPerRequest
  if (cpuMicrosPerRequest === undefined) throw new Error(`No CPU figure for ${key(framework, variant)}.`)
  const list = samples.get(key(framework, variant)) ?? []
  list.push({ cpuMicrosPerRequest, requestsPerSec: result.requestsPerSec, p99Millis: result.latencyP99Millis })
  samples.set(key(framework, variant), list)
  return cpuMicrosPerRequest
}

function medianOf(framework: Framework, variant: Variant, field: keyof Sample): number {
  return median((samples.get(key(framework, variant)) ?? []).map((sample) => sample[field]))
}

function rowsFor(framework: Framework): ReportRow[] {
  const lifeguard = (field: keyof Sample) => medianOf(framework, 'lifeguard', field)
  const rows: ReportRow[] = []
  for (const baseline of ['als-only', 'awilix', 'bare'] as const) {
    rows.push(
      compare({
        case: `${framework} lifeguard`,
        metric: 'server CPU us/req',
        value: lifeguard('cpuMicrosPerRequest'),
        baseline,
        baselineValue: medianOf(framework, baseline, 'cpuMicrosPerRequest'),
        better: 'lower',
      }),
    )
  }
  for (const baseline of ['als-only', 'awilix'] as const) {
    rows.push(
      compare({ case: `${framework} lifeguard`, metric: 'req/s', value: lifeguard('requestsPerSec'), baseline, baselineValue: medianOf(framework, baseline, 'requestsPerSec'), better: 'higher' }),
      compare({ case: `${framework} lifeguard`, metric: 'p99 ms', value: lifeguard('p99Millis'), baseline, baselineValue: medianOf(framework, baseline, 'p99Millis'), better: 'lower' }),
    )
  }
  return rows
}

function printVariants(): void {
  const lines = ['framework  variant     server CPU us/req   req/s      p99 ms   CPU us/req of each round']
  for (const framework of frameworks) {
    for (const variant of VARIANTS) {
      const cpu = medianOf(framework, variant, 'cpuMicrosPerRequest').toFixed(1).padStart(17)
      const rate = Math.round(medianOf(framework, variant, 'requestsPerSec')).toString().padStart(9)
      const p99 = medianOf(framework, variant, 'p99Millis').toFixed(2).padStart(9)
      const each = (samples.get(key(framework, variant)) ?? []).map((sample) => sample.cpuMicrosPerRequest.toFixed(1)).join(' ')
      lines.push(`${framework.padEnd(10)} ${variant.padEnd(10)} ${cpu} ${rate} ${p99}   ${each}`)
    }
  }
  console.log(`\nMedians over ${rounds} rounds:\n${lines.join('\n')}`)
}

function printTargets(rows: readonly ReportRow[]): void {
  console.log('\nTargets (server CPU per request):')
  for (const row of rows) {
    const framework = row.case.split(' ')[0] as Framework
    if (row.metric !== 'server CPU us/req' || (row.baseline !== 'als-only' && row.baseline !== 'awilix')) continue
    const target = TARGETS[framework][row.baseline]
    console.log(`  ${framework.padEnd(8)} vs ${row.baseline.padEnd(8)} ${row.ratio.toFixed(3)}x (target >= ${target}) ${row.ratio >= target ? 'met' : 'MISSED'}`)
  }
}

async function main(): Promise<void> {
  const cores = cpus().length
  console.log(
    `http-overhead on node ${process.version}, ${cores} cores, load average ${loadavg()[0]?.toFixed(2)}: ` +
      `${frameworks.join(', ')} x ${VARIANTS.join(', ')}; ${durationMillis / 1000}s measured after ${warmupMillis / 1000}s warm-up, ${rounds} rounds`,
  )
  const cases: BenchCase[] = frameworks.flatMap((framework) =>
    VARIANTS.map((variant) => ({ name: key(framework, variant), run: () => measure(framework, variant) })),
  )
  await interleave(cases, { rounds, warmupRounds: 0, onRound: (round, total) => console.error(`round ${round}/${total} done`) })
  printVariants()
  const rows = frameworks.flatMap(rowsFor)
  // One file whatever the Node version: the report's `node` field says which one ran.
  await report('http-overhead', rows)
  printTargets(rows)
  console.log(`load average at the end ${loadavg()[0]?.toFixed(2)} (figures from a busy machine are noisy)`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
