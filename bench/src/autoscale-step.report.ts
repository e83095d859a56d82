// What autoscale-step reports: per round, per mode and per workload, each setup's burst throughput and
// p99 (medians over the round's repeats) against the best fixed pool of that round; over the rounds, the
// worst round of each. The A/A control, a second fixed pool identical to its twin, is compared with that
// twin instead: how far apart two identical setups land is the floor under every other ratio.
import { WORKLOADS, type PhaseResult, type StepRun, type WorkloadName } from './autoscale-step.load.js'
import { compare, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

/** Quiet, or with a sibling process burning part of a core for the whole run. */
export type Mode = 'quiet' | 'neighbour'

/** The A/A control: a setup identical to {@link CONTROL_TWIN}, run as often and in the same rotation. */
export const CONTROL = 'control'
/** The fixed pool the control copies. */
export const CONTROL_TWIN = 'fixed-50'

/** One setup's run in one round (`repeat` counts from 1 within the round). */
export interface RunRecord {
  round: number
  repeat: number
  mode: Mode
  workload: WorkloadName
  setup: string
  run: StepRun
}

/**
 * One setup against the best fixed pool of its round (ratios > 1: better than it), each side the median
 * of its repeats. The control is compared with its twin, so `against` names the twin there.
 */
export interface RoundRatio {
  round: number
  mode: Mode
  workload: WorkloadName
  setup: string
  against: string
  repeats: number
  throughput: number
  againstThroughput: number
  throughputRatio: number
  p99Millis: number
  againstP99Millis: number
  p99Ratio: number
}

export function burstOf(run: StepRun): PhaseResult {
  return run.phases.find((p) => p.name === 'burst') as PhaseResult
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>()
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item])
  return groups
}

/** A setup's burst figures in one round: the medians over its repeats. */
interface SetupMedians {
  setup: string
  repeats: number
  throughput: number
  p99Millis: number
}

function mediansOf(records: readonly RunRecord[]): SetupMedians[] {
  return [...groupBy(records, (r) => r.setup)].map(([setup, runs]) => ({
    setup,
    repeats: runs.length,
    throughput: median(runs.map((r) => burstOf(r.run).throughput)),
    p99Millis: median(runs.map((r) => burstOf(r.run).p99Millis)),
  }))
}

function ratioOf(record: Pick<RunRecord, 'round' | 'mode' | 'workload'>, setup: SetupMedians, against: SetupMedians): RoundRatio {
  return {
    round: record.round,
    mode: record.mode,
    workload: record.workload,
    setup: setup.setup,
    against: against.setup,
    repeats: setup.repeats,
    throughput: setup.throughput,
    againstThroughput: against.throughput,
    throughputRatio: setup.throughput / against.throughput,
    p99Millis: setup.p99Millis,
    againstP99Millis: against.p99Millis,
    p99Ratio: against.p99Millis / setup.p99Millis,
  }
}

/**
 * Each setup's ratios per round, mode and workload, on the medians of its repeats. The best fixed pool
 * is the one with the highest median burst throughput; the control is compared with its twin.
 */
export function roundRatios(records: readonly RunRecord[]): RoundRatio[] {
  const ratios: RoundRatio[] = []
  for (const group of groupBy(records, (r) => `${r.round}/${r.mode}/${r.workload}`).values()) {
    const first = group[0] as RunRecord
    const setups = mediansOf(group)
    const fixed = setups.filter((s) => s.setup.startsWith('fixed-'))
    if (fixed.length === 0) continue
    const best = fixed.reduce((a, b) => (b.throughput > a.throughput ? b : a))
    const twin = setups.find((s) => s.setup === CONTROL_TWIN)
    for (const setup of setups) {
      if (setup === best) continue
      if (setup.setup === CONTROL) {
        if (twin !== undefined) ratios.push(ratioOf(first, setup, twin))
        continue
      }
      ratios.push(ratioOf(first, setup, best))
    }
  }
  return ratios
}

/** The record of a setup's run in a round whose burst throughput is nearest the median of its repeats. */
export function typicalRun(records: readonly RunRecord[], where: Pick<RunRecord, 'round' | 'mode' | 'workload' | 'setup'>): RunRecord | undefined {
  const runs = records.filter((r) => r.round === where.round && r.mode === where.mode && r.workload === where.workload && r.setup === where.setup)
  if (runs.length === 0) return undefined
  const middle = median(runs.map((r) => burstOf(r.run).throughput))
  return runs.reduce((a, b) => (Math.abs(burstOf(b.run).throughput - middle) < Math.abs(burstOf(a.run).throughput - middle) ? b : a))
}

function caseName(ratio: Pick<RoundRatio, 'setup' | 'workload' | 'mode'>, metric: string): string {
  const setup = ratio.setup === CONTROL ? `control (A/A, ${CONTROL_TWIN.replace('fixed-', 'fixed ')} again)` : ratio.setup.replace('fixed-', 'fixed ')
  return `${setup} ${WORKLOADS[ratio.workload].label} burst ${metric}${ratio.mode === 'neighbour' ? ' (noisy neighbour)' : ''}`
}

/**
 * How bad one figure of a round is, lower being worse: the ratio itself, or for the control (where
 * neither side is the better) its distance from 1 either way, as a ratio <= 1.
 */
function severity(ratio: RoundRatio, pick: (r: RoundRatio) => number): number {
  const value = pick(ratio)
  return ratio.setup === CONTROL ? Math.min(value, 1 / value) : value
}

/** The round with the lowest score. */
function worstOf(group: readonly RoundRatio[], score: (r: RoundRatio) => number): RoundRatio {
  return group.reduce((a, b) => (score(b) < score(a) ? b : a))
}

function againstName(ratio: RoundRatio): string {
  return ratio.setup === CONTROL ? ratio.against : `best fixed (${ratio.against})`
}

/** One row per setup, workload, mode and metric: the worst round's figures. Policies first, then the control. */
export function worstRows(ratios: readonly RoundRatio[], rounds: number): ReportRow[] {
  const rows: ReportRow[] = []
  for (const group of groupBy(ratios, (r) => `${r.mode}/${r.workload}/${r.setup}`).values()) {
    const first = group[0] as RoundRatio
    const worstThroughput = worstOf(group, (r) => severity(r, (x) => x.throughputRatio))
    const worstP99 = worstOf(group, (r) => severity(r, (x) => x.p99Ratio))
    const of = [first.repeats > 1 ? `median of ${first.repeats} runs` : '', rounds > 1 ? `worst of ${rounds} rounds` : ''].filter(Boolean).join(', ')
    const suffix = of === '' ? '' : ` (${of})`
    rows.push(
      compare({ case: caseName(first, 'throughput'), metric: `queries/s${suffix}`, value: worstThroughput.throughput, baseline: againstName(worstThroughput), baselineValue: worstThroughput.againstThroughput, better: 'higher' }),
      compare({ case: caseName(first, 'p99'), metric: `p99 latency ms${suffix}`, value: worstP99.p99Millis, baseline: againstName(worstP99), baselineValue: worstP99.againstP99Millis, better: 'lower' }),
    )
  }
  const rank = (name: string) => (name.startsWith('adaptive') ? 0 : name.startsWith('threshold') ? 1 : name.startsWith('control') ? 2 : 3)
  return rows.sort((a, b) => rank(a.case) - rank(b.case))
}

/** Every round's ratios for the policies and the control, then the worst round of each. */
export function roundTable(ratios: readonly RoundRatio[]): string {
  const shown = ratios.filter((r) => !r.setup.startsWith('fixed-'))
  const lines = ['round  mode       workload    setup      against     throughput  p99     q/s (against)    p99 ms (against)']
  for (const r of shown) {
    lines.push(
      [
        String(r.round).padStart(5),
        r.mode.padEnd(9),
        WORKLOADS[r.workload].label.padEnd(10),
        r.setup.padEnd(9),
        r.against.padEnd(10),
        `${r.throughputRatio.toFixed(3)}x`.padStart(10),
        `${r.p99Ratio.toFixed(3)}x`.padStart(7),
        `${r.throughput.toFixed(0)} (${r.againstThroughput.toFixed(0)})`.padStart(15),
        `${r.p99Millis.toFixed(1)} (${r.againstP99Millis.toFixed(1)})`.padStart(16),
      ].join('  '),
    )
  }
  lines.push('', 'Worst round per setup (the lower of its throughput and p99 ratios; the control: the farther from 1):')
  for (const [key, group] of groupBy(shown, (r) => `${r.setup}/${r.mode}/${r.workload}`)) {
    const worst = worstOf(group, (r) => Math.min(severity(r, (x) => x.throughputRatio), severity(r, (x) => x.p99Ratio)))
    lines.push(`  ${key.padEnd(30)} round ${worst.round}: throughput ${worst.throughputRatio.toFixed(3)}x, p99 ${worst.p99Ratio.toFixed(3)}x`)
  }
  return lines.join('\n') + '\n'
}

/** Medians over the rounds of each phase's figures, per mode, workload and setup. */
export function phaseTable(records: readonly RunRecord[]): string {
  // 'p99 1s+': the queries started after the phase's first second; 'top 1% in 1st s': the share of the
  // queries slower than the p99 that started within it (where a burst opens its connections).
  const lines = ['mode       workload    setup       phase  conc    q/s   p99 ms  p99 1s+  top 1% in 1st s  conn-s  errors']
  for (const group of groupBy(records, (r) => `${r.mode}/${r.workload}/${r.setup}`).values()) {
    const first = group[0] as RunRecord
    first.run.phases.forEach((phase, index) => {
      const all = group.map((r) => r.run.phases[index] as PhaseResult)
      const mid = (pick: (p: PhaseResult) => number) => median(all.map(pick))
      lines.push(
        [
          first.mode.padEnd(9),
          WORKLOADS[first.workload].label.padEnd(10),
          first.setup.padEnd(10),
          phase.name.padEnd(5),
          String(phase.concurrency).padStart(5),
          mid((p) => p.throughput).toFixed(0).padStart(6),
          mid((p) => p.p99Millis).toFixed(1).padStart(8),
          mid((p) => p.afterFirstSecondP99Millis).toFixed(1).padStart(7),
          `${(100 * mid((p) => p.slowInFirstSecond / Math.max(1, p.operations / 100))).toFixed(0)}%`.padStart(15),
          mid((p) => p.connectionSeconds).toFixed(0).padStart(7),
          String(all.reduce((sum, p) => sum + p.errors, 0)).padStart(7),
        ].join('  '),
      )
    })
  }
  return lines.join('\n') + '\n'
}
