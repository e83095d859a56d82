// fleet: N service instances (processes, each with its own registry and PostgreSQL pool) on one private
// PostgreSQL cluster with max_connections 60. A quarter of the instances are hot (50 concurrent
// wait-bound queries), the rest calm (a few queries a second); the hot set moves every phase. Three
// setups, interleaved over rounds: every instance fixed at maxSize 10 (the fleet asks for more than the
// server has), fixed at a fair split of the budget, and the adaptive policy under a shared budget.
//
//   npm run bench -- fleet [--quick] [--instances 16] [--rounds 5] [--phase-seconds 15] [--phases N]
//                          [--refresh-millis 250] [--calm-rate 20] [--sleep-millis 20] [--min-size N] [--only shared,fair,pgbouncer] [--trace]
//
// A fourth setup puts one PgBouncer (transaction mode, its pool size = the budget) in front of the server,
// when Debian's pgbouncer is installed.
import { startPgBouncer, startPrivateCluster, type PgBouncer } from '@lifeguard/test-kit'
import { mkdir, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { availableParallelism, loadavg } from 'node:os'
import { Fleet } from './fleet.instances.js'
import { renderFleetPlot, type FleetPanel } from './fleet.plot.js'
import { budgetCostLine, budgetRows, mergeRounds, runLine, summaryTable, type BudgetFigures } from './fleet.report.js'
import { runSetup, type LoadPlan, type RunResult, type Setup } from './fleet.run.js'
import { cpuPerBudgetRead, ServerSampler } from './fleet.sampler.js'
import { byMode, isQuick } from './lib/quick.js'
import { report } from './lib/report.js'

const MAX_CONNECTIONS = 60
const APPLICATION_NAME = 'fleet-service'
const ROLE = 'fleet'
// Connections besides the fleet's: the sampler (a superuser, so it uses a reserved slot, but it still
// counts against max_connections).
const OTHER_CONNECTIONS = 1

function parseArgs() {
  const args = process.argv.slice(2)
  const value = (flag: string) => {
    const index = args.indexOf(flag)
    return index >= 0 ? args[index + 1] : undefined
  }
  const integer = (flag: string, fallback: number, min: number) => {
    const raw = value(flag)
    const parsed = raw === undefined ? fallback : Number(raw)
    if (!Number.isInteger(parsed) || parsed < min) throw new RangeError(`Expected \`${flag}\` to be an integer >= ${min}, got \`${raw}\``)
    return parsed
  }
  const instances = integer('--instances', 16, 2)
  const hotCount = Math.max(1, Math.round(instances / 4))
  return {
    instances,
    hotCount,
    rounds: integer('--rounds', byMode({ full: 5, quick: 1 }), 1),
    phaseMillis: integer('--phase-seconds', byMode({ full: 15, quick: 5 }), 1) * 1000,
    phases: integer('--phases', byMode({ full: Math.ceil(instances / hotCount), quick: 2 }), 1),
    refreshMillis: value('--refresh-millis') === undefined ? undefined : integer('--refresh-millis', 0, 10),
    calmRate: integer('--calm-rate', 20, 1),
    sleepMillis: integer('--sleep-millis', 20, 1),
    // Default: the fair split, so no instance ever has fewer connections than it would with fixed pools.
    minSize: value('--min-size') === undefined ? undefined : integer('--min-size', 0, 1),
    only: value('--only')?.split(','),
    trace: args.includes('--trace'),
  }
}

/** The setups, keyed by a short name for `--only`. */
function setups(budget: number, instances: number, minSize: number, refreshMillis: number | undefined, pgbouncer: { host: string; port: number } | undefined): Record<string, Setup> {
  const fair = Math.floor(budget / instances)
  return {
    // PgBouncer in transaction mode enforces the budget with its pool size; every instance may ask for 10.
    ...(pgbouncer === undefined ? {} : { pgbouncer: { name: `PgBouncer (default_pool_size ${budget}, maxSize 10)`, spec: { maxSize: 10, pgbouncer } } }),
    unbounded: { name: 'fixed unbounded (maxSize 10)', spec: { maxSize: 10 } },
    fair: { name: `fixed fair split (maxSize ${fair})`, spec: { maxSize: fair } },
    shared: {
      name: `shared budget + adaptive (minSize ${minSize})`,
      // No instance can use more than the budget less the others' minimum.
      spec: { maxSize: fair, budget: { total: budget, instances, minSize, maxSize: budget - (instances - 1) * minSize, ...(refreshMillis === undefined ? {} : { refreshMillis }) } },
    },
  }
}

async function main(): Promise<void> {
  const options = parseArgs()
  const cluster = await startPrivateCluster({
    maxConnections: MAX_CONNECTIONS,
    settings: { shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track_planning': 'on' },
  })
  let fleet: Fleet | undefined
  let sampler: ServerSampler | undefined
  let bouncer: PgBouncer | undefined
  try {
    await cluster.sql(`CREATE ROLE ${ROLE} LOGIN; CREATE EXTENSION pg_stat_statements`)
    const postmasterPid = Number(readFileSync(join(cluster.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
    sampler = new ServerSampler(cluster.connection, postmasterPid)
    await sampler.connect()
    const reserved = await sampler.setting('superuser_reserved_connections')
    // What the fleet's role can open at most, and the budget: that less one connection per instance, the
    // most the fleet can pass the budget by while instances learn of each other's claims.
    const hardLimit = MAX_CONNECTIONS - reserved - OTHER_CONNECTIONS
    const budget = hardLimit - options.instances
    if (budget < 2 * options.instances) throw new RangeError(`Expected at most ${Math.floor(hardLimit / 3)} instances for max_connections ${MAX_CONNECTIONS}, got ${options.instances}`)
    const fair = Math.floor(budget / options.instances)
    const minSize = options.minSize ?? fair
    if (minSize > fair) throw new RangeError(`Expected \`--min-size\` to be at most ${fair} (budget ${budget} / ${options.instances} instances), got \`${minSize}\``)
    bouncer = await startPgBouncer({
      upstream: { ...cluster.connection, user: ROLE },
      poolMode: 'transaction',
      defaultPoolSize: budget,
      maxClientConn: options.instances * 10 + 50,
    }).catch((error: unknown) => {
      process.stdout.write(`PgBouncer setup skipped: ${error instanceof Error ? error.message : String(error)}\n`)
      return undefined
    })
    const all = setups(budget, options.instances, minSize, options.refreshMillis, bouncer === undefined ? undefined : { host: bouncer.host, port: bouncer.port })
    const chosen = Object.entries(all).filter(([key]) => options.only === undefined || options.only.includes(key))
    const plan: LoadPlan = { warmupMillis: byMode({ full: 3000, quick: 2000 }), phaseMillis: options.phaseMillis, phases: options.phases, hotCount: options.hotCount }
    const connection = { ...cluster.connection, user: ROLE }
    const loadBefore = loadavg().map((l) => Number(l.toFixed(2)))
    const base = { connection, applicationName: APPLICATION_NAME, query: `SELECT pg_sleep(${options.sleepMillis / 1000})`, hotConcurrency: 50, calmRate: options.calmRate, acquireTimeoutMillis: 10_000, trace: options.trace }
    process.stdout.write(
      `fleet: ${options.instances} instances, ${options.hotCount} hot at a time (concurrency ${base.hotConcurrency}, ${base.query}), the others calm (${options.calmRate} queries/s each), ` +
        `${plan.phases} phases of ${plan.phaseMillis / 1000} s, ${options.rounds} round(s)\n` +
        `server: max_connections ${MAX_CONNECTIONS}, superuser_reserved_connections ${reserved}, the fleet can open ${hardLimit}; budget ${budget} (+ ${options.instances} transient = ${budget + options.instances}); ` +
        `shared budget: adaptive policy from minSize ${minSize} to maxSize ${budget - (options.instances - 1) * minSize}\n` +
        `load average at start: ${loadBefore.join(' ')}\n\n`,
    )
    fleet = await Fleet.start(options.instances)
    const runs: RunResult[] = []
    for (let round = 0; round < options.rounds; round++) {
      for (let step = 0; step < chosen.length; step++) {
        const [key, setup] = chosen[(round + step) % chosen.length] as [string, Setup]
        const run = await runSetup(fleet, sampler, setup, base, plan)
        // PgBouncer keeps its server connections after its clients leave; close them so the next run
        // starts from a drained server.
        if (key === 'pgbouncer') await bouncer?.closeServerConnections()
        runs.push(run)
        process.stdout.write(runLine(round + 1, key, run))
      }
    }
    const cpuPerRead = await cpuPerBudgetRead(connection, APPLICATION_NAME, byMode({ full: 5000, quick: 1000 }))
    const merged = mergeRounds(runs)
    process.stdout.write(`\n${summaryTable(merged)}`)
    const figures: BudgetFigures = { budget, instances: options.instances, hardLimit, cpuPerReadMillis: cpuPerRead }
    process.stdout.write(budgetCostLine(merged, all, figures, availableParallelism()))
    const rows = budgetRows(merged, all, figures)
    const loadAfter = loadavg().map((l) => Number(l.toFixed(2)))
    process.stdout.write(`load average at end: ${loadAfter.join(' ')}\n`)
    await report('fleet', rows)
    // Every run's figures (without the series), for a closer look than the medians.
    const perRun = runs.map(({ instances: _instances, server: _server, boundaries: _boundaries, ...run }) => run)
    await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
    await writeFile(fileURLToPath(new URL('../results/fleet.runs.json', import.meta.url)), JSON.stringify({ node: process.version, loadBefore, loadAfter, figures, runs: perRun }, null, 2) + '\n')
    await writePlot(runs, chosen, figures, options.rounds)
  } finally {
    await sampler?.end().catch(() => undefined)
    await fleet?.close()
    await bouncer?.stop()
    await cluster.destroy()
  }
}

/** The last round's run of each setup, as bench/fleet.svg. */
async function writePlot(runs: readonly RunResult[], chosen: readonly [string, Setup][], figures: BudgetFigures, rounds: number): Promise<void> {
  const panels: FleetPanel[] = []
  for (const [key, setup] of chosen) {
    const run = runs.filter((r) => r.setup === setup.name).at(-1)
    if (run === undefined) continue
    const seconds = (at: number) => (at - run.startedAt) / 1000
    const limits = [
      ...(key === 'unbounded' ? [] : [{ label: key === 'pgbouncer' ? "budget (PgBouncer's pool size)" : 'budget', value: figures.budget }]),
      { label: 'server limit for the fleet', value: figures.hardLimit },
    ]
    panels.push({
      title: `${setup.name}: ${run.throughput.toFixed(0)} queries/s, p99 ${run.p99Millis.toFixed(0)} ms, peak ${run.peakServer}, ${run.refused} refused`,
      instances: run.instances.map((series) => series.map((point) => ({ seconds: seconds(point.at), value: point.open }))),
      server: run.server.map((point) => ({ seconds: seconds(point.at), value: point.fleet })),
      boundaries: run.boundaries.map(seconds),
      limits,
    })
  }
  const caption = `fleet: ${figures.instances} instances, max_connections ${MAX_CONNECTIONS}, round ${rounds} of ${rounds}`
  const svg = renderFleetPlot(panels, caption)
  await mkdir(fileURLToPath(new URL('../results/', import.meta.url)), { recursive: true })
  await writeFile(fileURLToPath(new URL('../results/fleet.svg', import.meta.url)), svg)
  // A complete run (every setup, full length) is the one the README shows.
  const complete = !isQuick() && chosen.length >= 3
  if (complete) await writeFile(fileURLToPath(new URL('../fleet.svg', import.meta.url)), svg)
  process.stdout.write(`Wrote bench/results/fleet.svg${complete ? ' and bench/fleet.svg' : ''}\n`)
}

await main()
