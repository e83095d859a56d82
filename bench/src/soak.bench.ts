// Soak: the orders example service under a paced mixed load for 10 minutes, on a private PostgreSQL
// cluster, with a fault every minute (every backend terminated, the server restarted, a burst of client
// aborts, in turn). Checks that the heap after GC stays flat, that the server's connection count follows
// the pool after each fault, that every 5xx is a typed problem and that every request gets a response.
//
//   npm run bench -- soak [--framework express|koa|hono] [--minutes 10] [--fault-every 60] [--rate 200]
//   npm run bench -- soak --quick          # about a minute, faults every 15 s
import { loadavg } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { startPrivateCluster } from '@lifeguard/test-kit'
import { isQuick } from './lib/quick.js'
import { report } from './lib/report.js'
import { FAULT_CYCLE, awaitNoConnections, awaitQuiet, connectionState, injectFault, type FaultContext, type FaultResult } from './lib/soak-faults.js'
import { MixedLoad } from './lib/soak-load.js'
import { FRAMEWORK_ENTRIES, startSoakService, type Framework } from './lib/soak-service.js'
import { clock, failedChecks, formatSummary, soakRows, type HeapSample, type SoakResult } from './lib/soak-summary.js'
import { percentile } from './lib/stats.js'

interface SoakOptions {
  framework: Framework
  durationMillis: number
  faultEveryMillis: number
  heapEveryMillis: number
  recoveryMillis: number
  ratePerSec: number
  concurrency: number
  abortBurst: number
  heapAllowanceMbPerMin: number
  timeoutMillis: number
}

const quick = isQuick()

// Lines of the example's log the soak counts: an unexpected error (the log line of an `internal` 500, also
// for a request whose client was gone), a pool error event, a leak report.
const SERVICE_LOG_PATTERNS = { unexpected: / failed \(request /, poolErrors: /^\[orders-api\] pool '\w+' \w+ error:/, leaks: /^\[orders-api\] pool '\w+' leak / }

// Each option: its default (full run / --quick), the smallest value allowed, and whether it is a whole number.
const NUMERIC = {
  minutes: { full: 10, quick: 1, min: 0.25, integer: false },
  'fault-every': { full: 60, quick: 15, min: 5, integer: false },
  'heap-every': { full: 10, quick: 5, min: 1, integer: false },
  recovery: { full: 20, quick: 10, min: 1, integer: false },
  rate: { full: 200, quick: 200, min: 0, integer: true },
  concurrency: { full: 16, quick: 16, min: 1, integer: true },
  aborts: { full: 200, quick: 100, min: 1, integer: true },
  'heap-allowance': { full: 0.5, quick: 0.5, min: 0.001, integer: false },
  timeout: { full: 30, quick: 30, min: 1, integer: false },
} as const

function parseOptions(argv: string[]): SoakOptions {
  const numeric = Object.fromEntries(Object.keys(NUMERIC).map((name) => [name, { type: 'string' as const }]))
  const { values } = parseArgs({ args: argv, options: { framework: { type: 'string', default: 'express' }, ...numeric }, strict: true })
  const framework = values.framework as string
  if (!Object.hasOwn(FRAMEWORK_ENTRIES, framework)) throw new Error(`Expected --framework to be one of ${Object.keys(FRAMEWORK_ENTRIES).join(', ')}, got '${framework}'.`)
  const number = (name: keyof typeof NUMERIC): number => {
    const rule = NUMERIC[name]
    const raw = (values as Record<string, string | undefined>)[name]
    if (raw === undefined) return quick ? rule.quick : rule.full
    const value = Number(raw)
    if (!Number.isFinite(value) || value < rule.min || (rule.integer && !Number.isInteger(value))) {
      throw new Error(`Expected --${name} to be ${rule.integer ? 'an integer' : 'a number'} >= ${rule.min}, got '${raw}'.`)
    }
    return value
  }
  const options: SoakOptions = {
    framework: framework as Framework,
    durationMillis: number('minutes') * 60_000,
    faultEveryMillis: number('fault-every') * 1000,
    heapEveryMillis: number('heap-every') * 1000,
    recoveryMillis: number('recovery') * 1000,
    ratePerSec: number('rate'),
    concurrency: number('concurrency'),
    abortBurst: number('aborts'),
    heapAllowanceMbPerMin: number('heap-allowance'),
    timeoutMillis: number('timeout') * 1000,
  }
  if (options.recoveryMillis >= options.faultEveryMillis) throw new Error(`Expected --recovery (${options.recoveryMillis / 1000}) to be below --fault-every (${options.faultEveryMillis / 1000}).`)
  return options
}

// Faults every `faultEveryMillis`, the last one leaving room for its recovery before the run ends.
function faultTimes(options: SoakOptions): number[] {
  const times: number[] = []
  for (let at = options.faultEveryMillis; at + options.recoveryMillis <= options.durationMillis; at += options.faultEveryMillis) times.push(at)
  return times
}

async function until(startedAt: number, atMillis: number): Promise<void> {
  const wait = startedAt + atMillis - performance.now()
  if (wait > 0) await sleep(wait)
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const loadAverageStart = loadavg()
  const applicationName = `lifeguard-soak-${options.framework}-${process.pid}`
  const cluster = await startPrivateCluster({ maxConnections: 50 })
  try {
    const service = await startSoakService({ framework: options.framework, databaseUrl: cluster.url, applicationName }, SERVICE_LOG_PATTERNS)
    let exitCode: number | null = null
    let measured: Omit<SoakResult, 'exitCode' | 'leftAfterExit' | 'serviceLog' | 'loadAverage'> | undefined
    const load = new MixedLoad(service.url, { concurrency: options.concurrency, ratePerSec: options.ratePerSec, timeoutMillis: options.timeoutMillis })
    try {
      console.log(`soak: ${options.framework} service at ${service.url} (pid ${service.pid}), ${options.durationMillis / 60_000} min, ${options.ratePerSec || 'unpaced'} req/s over ${options.concurrency} workers`)
      const startedAt = performance.now()
      load.start()
      const context: FaultContext = {
        cluster,
        applicationName,
        service,
        load,
        recoveryMillis: options.recoveryMillis,
        abortBurst: { count: options.abortBurst, spreadMillis: 1_000 },
        startedAt,
      }
      const heap: HeapSample[] = []
      const faults: FaultResult[] = []
      await Promise.all([sampleHeap(context, options, heap), runFaults(context, options, faults)])
      await until(startedAt, options.durationMillis)
      await load.stop()
      const quiet = await awaitQuiet(context, 15_000)
      measured = {
        framework: options.framework,
        quick,
        durationMillis: options.durationMillis,
        tally: load.tally,
        faults,
        recoveryBoundMillis: options.recoveryMillis,
        heap,
        heapFitFromMillis: Math.min(60_000, options.durationMillis / 4),
        heapAllowanceMbPerMin: options.heapAllowanceMbPerMin,
        quiet,
      }
    } finally {
      // Also when a step failed: the workers would otherwise keep the process alive.
      await load.stop()
      exitCode = await service.stop()
      if (measured === undefined) console.error(`Service output (last lines):\n${service.lastLines().join('\n')}`)
    }
    const leftAfterExit = await awaitNoConnections(cluster, applicationName, 10_000)
    const serviceLog = { unexpected: service.linesMatching('unexpected'), poolErrors: service.linesMatching('poolErrors'), leaks: service.linesMatching('leaks') }
    const result: SoakResult = { ...measured, exitCode, leftAfterExit, serviceLog, loadAverage: { start: loadAverageStart, end: loadavg() } }
    process.stdout.write(formatSummary(result))
    await report('soak', soakRows(result))
    const failures = failedChecks(result)
    if (failures.length > 0) {
      console.error(`\nsoak FAILED:\n  ${failures.join('\n  ')}\n\nService output (last lines):\n${service.lastLines().slice(-40).join('\n')}`)
      process.exitCode = 1
    } else {
      console.log('\nsoak passed: every request answered, every 5xx typed, every fault recovered, heap flat.')
    }
  } finally {
    await cluster.destroy()
  }
}

// Every `heapEveryMillis`: the service's heap after GC, and a progress line with the load since the last one.
async function sampleHeap(context: FaultContext, options: SoakOptions, samples: HeapSample[]): Promise<void> {
  for (let at = options.heapEveryMillis; at <= options.durationMillis; at += options.heapEveryMillis) {
    await until(context.startedAt, at)
    const atMillis = performance.now() - context.startedAt
    const heapUsed = await context.service.heapAfterGc()
    samples.push({ atMillis, heapUsed })
    const window = context.load.takeWindow()
    const p99 = window.latenciesMillis.length === 0 ? '-' : percentile(window.latenciesMillis, 99).toFixed(1)
    const connections = await connectionState(context)
    console.log(
      `${clock(atMillis)}  ${(window.answered / (options.heapEveryMillis / 1000)).toFixed(0)} req/s  p99 ${p99} ms  5xx ${window.serverErrors}  no response ${window.noResponse}  ` +
        `heap ${(heapUsed / 1024 / 1024).toFixed(2)} MB  connections server ${connections.server ?? '-'} / pool ${connections.pool?.totalConnections ?? '-'}`,
    )
  }
}

async function runFaults(context: FaultContext, options: SoakOptions, results: FaultResult[]): Promise<void> {
  for (const [i, at] of faultTimes(options).entries()) {
    await until(context.startedAt, at)
    const kind = FAULT_CYCLE[i % FAULT_CYCLE.length] as (typeof FAULT_CYCLE)[number]
    const result = await injectFault(kind, context)
    results.push(result)
    const outcome = result.recoveryMillis === undefined ? `NOT recovered: ${result.missing}` : `recovered in ${(result.recoveryMillis / 1000).toFixed(2)} s`
    console.log(`${clock(result.atMillis)}  fault '${kind}': ${result.detail}; connections ${result.before ?? '-'} before, ${result.after ?? '-'} / pool ${result.poolAfter ?? '-'} after; ${outcome}`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
