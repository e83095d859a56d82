// One run of the fleet benchmark: every instance builds its pool for a setup, the load moves across the
// fleet phase by phase, and the run's figures are gathered from the instances and from the server.
import hdr from 'hdr-histogram-js'
import { performance } from 'node:perf_hooks'
import type { Fleet } from './fleet.instances.js'
import type { InstancePoint, RunSpec, SetupSpec } from './fleet.protocol.js'
import type { BudgetQueryCost, ServerPoint, ServerSampler } from './fleet.sampler.js'

/** A setup under comparison. */
export interface Setup {
  name: string
  spec: SetupSpec
}

/** How the load moves. */
export interface LoadPlan {
  /** All calm, not measured. */
  warmupMillis: number
  phaseMillis: number
  phases: number
  /** Instances hot at a time. */
  hotCount: number
}

/** What one run measured. */
export interface RunResult {
  setup: string
  throughput: number
  p50Millis: number
  p99Millis: number
  hotP99Millis: number
  calmP99Millis: number
  failed: number
  refused: number
  connectErrors: number
  peakServer: number
  meanServer: number
  resizes: number
  /** Server CPU time over the run, ms. */
  serverCpuMillis: number
  /** The instances' CPU time over the run, ms. */
  clientCpuMillis: number
  runMillis: number
  budget: BudgetQueryCost
  firstError: string | undefined
  /** For the plot: when the run and its phases began (wall-clock ms), and the series. */
  startedAt: number
  boundaries: number[]
  instances: InstancePoint[][]
  server: ServerPoint[]
}

const wallNow = () => performance.timeOrigin + performance.now()
const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

/** The instances hot in phase `phase`: consecutive blocks, so every flip moves the whole hot set. */
export function hotSet(phase: number, hotCount: number, instances: number): Set<number> {
  return new Set(Array.from({ length: hotCount }, (_, k) => (phase * hotCount + k) % instances))
}

/** Runs one setup across the fleet and gathers its figures. */
export async function runSetup(fleet: Fleet, sampler: ServerSampler, setup: Setup, base: Omit<RunSpec, 'setup'>, plan: LoadPlan): Promise<RunResult> {
  const applicationName = base.applicationName
  await sampler.drained(applicationName)
  await fleet.begin({ ...base, setup: setup.spec })
  await sampler.resetStatements()
  const cpuBefore = sampler.serverCpuMillis()
  const startedAt = wallNow()
  sampler.start(applicationName)
  for (let i = 0; i < fleet.size; i++) fleet.load(i, 'calm', false)
  await sleep(plan.warmupMillis)
  const boundaries: number[] = []
  for (let phase = 0; phase < plan.phases; phase++) {
    const hot = hotSet(phase, plan.hotCount, fleet.size)
    boundaries.push(wallNow())
    for (let i = 0; i < fleet.size; i++) fleet.load(i, hot.has(i) ? 'hot' : 'calm', true)
    await sleep(plan.phaseMillis)
  }
  const measuredMillis = wallNow() - (boundaries[0] as number)
  const budget = await sampler.budgetQueryCost()
  const serverCpuMillis = sampler.serverCpuMillis() - cpuBefore
  const runMillis = wallNow() - startedAt
  const results = await fleet.end()
  const server = sampler.stop()

  const all = hdr.build()
  const hot = hdr.build()
  const calm = hdr.build()
  for (const result of results) {
    const h = hdr.decodeFromCompressedBase64(result.hot)
    const c = hdr.decodeFromCompressedBase64(result.calm)
    hot.add(h)
    calm.add(c)
    all.add(h)
    all.add(c)
  }
  const measured = server.filter((point) => point.at >= (boundaries[0] as number))
  const sum = (pick: (r: (typeof results)[number]) => number) => results.reduce((total, r) => total + pick(r), 0)
  return {
    setup: setup.name,
    throughput: (sum((r) => r.operations) * 1000) / measuredMillis,
    p50Millis: all.getValueAtPercentile(50) / 1000,
    p99Millis: all.getValueAtPercentile(99) / 1000,
    hotP99Millis: hot.getValueAtPercentile(99) / 1000,
    calmP99Millis: calm.getValueAtPercentile(99) / 1000,
    failed: sum((r) => r.failed),
    refused: sum((r) => r.refused),
    connectErrors: sum((r) => r.connectErrors),
    peakServer: Math.max(0, ...server.map((point) => point.fleet)),
    meanServer: measured.length === 0 ? 0 : measured.reduce((total, point) => total + point.fleet, 0) / measured.length,
    resizes: sum((r) => r.resizes),
    serverCpuMillis,
    clientCpuMillis: sum((r) => r.cpuMillis),
    runMillis,
    budget,
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    startedAt,
    boundaries,
    instances: results.map((r) => r.series),
    server,
  }
}
