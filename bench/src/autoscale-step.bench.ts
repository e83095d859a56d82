// autoscale-step: step loads on the real PostgreSQL through Lifeguard's PostgreSQL pool, sized by the
// threshold policy, by the adaptive policy, and fixed at 5, 20, 50 and 95. Three workloads: wait-bound
// and CPU-bound (10 s at concurrency 5, 10 s at 100, 10 s at 5), and shifting (the two alternating every
// 10 s for 40 s at concurrency 100). Each round runs every setup of every workload `--repeats` times
// (interleaved, in an order rotated every pass), quiet and then with a noisy neighbour (a sibling process
// burning half of one core for the whole run). Per round, the best fixed pool of a workload is the one
// with the highest median burst throughput, and the policies' medians are compared with it; the rows
// report each setup's worst round. A control, fixed 50 run a second time as its own setup, is compared
// with fixed 50: the A/A floor, how far two identical setups land apart. The adaptive runs of the worst
// round are drawn as an SVG.
//
//   npm run bench -- autoscale-step [--quick] [--rounds N] [--repeats N] [--workload wait,cpu,shifting]
//                                   [--modes quiet,neighbour] [--only adaptive,fixed-50,control] [--trace]
// (`--only` also takes `adaptive-close`, not run by default: the adaptive policy with `keepSurplusMillis: 0`;
// `adaptive-held`: the adaptive policy watching a pool its bounds hold at 95; and `resized-by-hand`: a pool of 7
// resized to 95 0.13 s into the burst, with no policy.)
import type { AutoscalePoolConfig } from '@lifeguard/autoscale'
import { mkdir, writeFile } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { WORKLOADS, runSetup, type Setup, type WorkloadName } from './autoscale-step.load.js'
import { renderStepPlot, type PlotPanel } from './autoscale-step.plot.js'
import { burstOf, CONTROL, CONTROL_TWIN, phaseTable, roundRatios, roundTable, typicalRun, worstRows, type Mode, type RoundRatio, type RunRecord } from './autoscale-step.report.js'
import { countArg } from './lib/args.js'
import { startNoisyNeighbour } from './lib/noisy-neighbour.js'
import { byMode, isQuick } from './lib/quick.js'
import { report } from './lib/report.js'

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
const SETUPS: Setup[] = [
  ...FIXED_SIZES.map((size) => ({ name: `fixed-${size}`, initialSize: size })),
  { name: 'threshold', initialSize: 10, config: THRESHOLD },
  { name: 'adaptive', initialSize: 10, config: ADAPTIVE },
  { name: CONTROL, initialSize: Number(CONTROL_TWIN.slice('fixed-'.length)) },
]
// Run only when named in --only: the adaptive policy closing what it sheds at once, as before
// `keepSurplusMillis`, to weigh keeping it; the adaptive policy watching a pool held at 95 (its
// bounds leave it no move), to tell what watching costs from what its moves cost; and a pool of 7 resized
// by hand to 95 0.13 s into the burst (the policy's usual first move, with no policy), to tell what that
// move costs against a pool allowed 95 from the start.
const EXTRA_SETUPS: Setup[] = [
  { name: 'adaptive-close', initialSize: 10, config: { ...ADAPTIVE, keepSurplusMillis: 0 } },
  { name: 'adaptive-held', initialSize: 95, config: { ...ADAPTIVE, minSize: 95 } },
  { name: 'resized-by-hand', initialSize: 7, burstResize: { afterMillis: 130, maxSize: 95 } },
]
const MODES: readonly Mode[] = ['quiet', 'neighbour']
const NEIGHBOUR_SHARE = 0.5

interface Args {
  workloads: WorkloadName[]
  setups: Setup[]
  modes: Mode[]
  rounds: number
  repeats: number
  trace: boolean
}

function listArg<T extends string>(args: readonly string[], flag: string, allowed: readonly T[]): T[] | undefined {
  const index = args.indexOf(flag)
  if (index < 0) return undefined
  const values = (args[index + 1] ?? '').split(',')
  const unknown = values.filter((v) => !allowed.includes(v as T))
  if (unknown.length > 0) throw new RangeError(`Expected \`${flag}\` to list some of ${allowed.join(', ')}, got \`${unknown.join(',')}\``)
  return values as T[]
}

function parseArgs(args: readonly string[]): Args {
  const rounds = countArg(args, '--rounds', 1, 100)
  // Medians of five runs per setup and round: one run of the same fixed pool moved by up to a fifth between
  // runs, and a median of three still let one busy pair of runs decide a round.
  const repeats = countArg(args, '--repeats', byMode({ full: 5, quick: 1 }), 20)
  const known = [...SETUPS, ...EXTRA_SETUPS]
  const only = listArg(args, '--only', known.map((s) => s.name))
  return {
    workloads: listArg(args, '--workload', Object.keys(WORKLOADS) as WorkloadName[]) ?? (Object.keys(WORKLOADS) as WorkloadName[]),
    setups: only === undefined ? SETUPS : known.filter((s) => only.includes(s.name)),
    modes: listArg(args, '--modes', MODES) ?? [...MODES],
    rounds,
    repeats,
    trace: args.includes('--trace'),
  }
}

/**
 * The order of the setups in pass `pass`: rotated every pass, so a busy moment of the machine does not always
 * land on the same setup, and reversed every other pass. Rotation alone gives every setup the same predecessor
 * in every pass (with fixed 5, fixed 95 and adaptive, adaptive always ran right after fixed 95's 95 backends);
 * reversed too, each setup follows each other one equally often (ABC, ACB, CAB, CBA, BCA, BAC for three).
 */
function passOrder<T>(setups: readonly T[], pass: number): T[] {
  const rotated = setups.map((_, i) => setups[(i + pass) % setups.length] as T)
  return pass % 2 === 0 ? rotated : rotated.reverse()
}

function loadAverage(): string {
  return loadavg().map((n) => n.toFixed(2)).join(' ')
}

async function runRound(round: number, mode: Mode, args: Args, records: RunRecord[]): Promise<number | undefined> {
  const neighbour = mode === 'neighbour' ? await startNoisyNeighbour({ share: NEIGHBOUR_SHARE }) : undefined
  let used: number | undefined
  try {
    for (const workload of args.workloads) {
      const phases = WORKLOADS[workload].phases(byMode({ full: 10_000, quick: 1000 }))
      for (let repeat = 1; repeat <= args.repeats; repeat++) {
        const order = passOrder(args.setups, (round - 1) * args.repeats + repeat - 1)
        for (const setup of order) {
          const run = await runSetup(setup, phases, args.trace)
          records.push({ round, repeat, mode, workload, setup: setup.name, run })
          const burst = burstOf(run)
          const errors = run.phases.reduce((sum, p) => sum + p.errors, 0)
          process.stderr.write(
            `round ${round}/${args.rounds} run ${repeat}/${args.repeats} ${mode} ${WORKLOADS[workload].label} ${setup.name}: burst ${burst.throughput.toFixed(0)} q/s, p99 ${burst.p99Millis.toFixed(1)} ms, ${burst.opened} opened, ${burst.closed} closed` +
              `${errors > 0 ? `, ${errors} failed (first: ${String(run.firstError)})` : ''}; load ${loadAverage()}\n`,
          )
          // Let the server finish closing the pool's backends before the next run.
          await new Promise((resolve) => setTimeout(resolve, byMode({ full: 1000, quick: 100 })))
        }
      }
    }
  } finally {
    used = await neighbour?.stop()
  }
  if (used !== undefined) process.stderr.write(`round ${round} noisy neighbour used ${(used * 100).toFixed(0)}% of one core\n`)
  return used
}

/**
 * The adaptive runs of the round where each did worst (mode, workload), with the best fixed pool's
 * throughput behind; of a round's repeats, the run nearest the median is drawn.
 */
function panels(records: readonly RunRecord[], ratios: readonly RoundRatio[]): PlotPanel[] {
  const out: PlotPanel[] = []
  for (const ratio of ratios) {
    if (ratio.setup !== 'adaptive') continue
    const worse = ratios.find((r) => r.setup === 'adaptive' && r.mode === ratio.mode && r.workload === ratio.workload && Math.min(r.throughputRatio, r.p99Ratio) < Math.min(ratio.throughputRatio, ratio.p99Ratio))
    if (worse !== undefined) continue
    const find = (setup: string) => typicalRun(records, { round: ratio.round, mode: ratio.mode, workload: ratio.workload, setup })
    const adaptive = find('adaptive')
    const best = find(ratio.against)
    if (adaptive === undefined) continue
    const workload = WORKLOADS[ratio.workload]
    out.push({
      title: `adaptive, ${workload.label} (${workload.description}), ${ratio.mode}, round ${ratio.round}: ${ratio.throughputRatio.toFixed(2)}x q/s, ${ratio.p99Ratio.toFixed(2)}x p99`,
      series: adaptive.run.series,
      boundaries: adaptive.run.boundaries,
      reference: best === undefined ? undefined : { label: `best fixed (${ratio.against})`, series: best.run.series },
    })
  }
  return out
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2))
  const loadBefore = loadAverage()
  const records: RunRecord[] = []
  const neighbourShares: number[] = []
  for (let round = 1; round <= args.rounds; round++) {
    for (const mode of args.modes) {
      const used = await runRound(round, mode, args, records)
      if (used !== undefined) neighbourShares.push(used)
    }
  }
  const loadAfter = loadAverage()
  const ratios = roundRatios(records)
  process.stdout.write(`\nLoad average (1, 5, 15 min): ${loadBefore} before, ${loadAfter} after.\n`)
  if (neighbourShares.length > 0) process.stdout.write(`Noisy neighbour: ${neighbourShares.map((s) => `${(s * 100).toFixed(0)}%`).join(', ')} of one core per round.\n`)
  const runs = args.rounds * args.repeats
  process.stdout.write(`\n${runs > 1 ? `Phase figures: medians over ${runs} runs per setup (${args.rounds} rounds of ${args.repeats}).\n` : ''}${phaseTable(records)}\n`)
  process.stdout.write(`${args.repeats > 1 ? `Ratios: medians of ${args.repeats} runs per setup and round.\n` : ''}${roundTable(ratios)}`)
  await report('autoscale-step', worstRows(ratios, args.rounds))

  const resultsDir = fileURLToPath(new URL('../results/', import.meta.url))
  await mkdir(resultsDir, { recursive: true })
  const runRecords = records.map(({ run: { series: _series, firstError, ...run }, ...record }) => ({ ...record, ...run, firstError: firstError === undefined ? undefined : String(firstError) }))
  await writeFile(`${resultsDir}autoscale-step.runs.json`, JSON.stringify({ node: process.version, loadBefore, loadAfter, neighbourShares, repeats: args.repeats, ratios, runs: runRecords }, null, 2) + '\n')
  const plot = panels(records, ratios)
  if (plot.length > 0) {
    const svg = renderStepPlot(plot, `autoscale-step, node ${process.version}, ${new Date().toISOString().slice(0, 10)}, load ${loadBefore}`)
    await writeFile(`${resultsDir}autoscale-step.svg`, svg)
    // Only a complete run replaces the plot the README shows.
    const complete = !isQuick() && args.workloads.length === Object.keys(WORKLOADS).length && args.setups.length === SETUPS.length && args.modes.length === MODES.length
    if (complete) await writeFile(fileURLToPath(new URL('../autoscale-step.svg', import.meta.url)), svg)
    process.stdout.write(`Wrote bench/results/autoscale-step.svg${complete ? ' and bench/autoscale-step.svg' : ''}, bench/results/autoscale-step.runs.json\n`)
  }
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
