// What autoscale-step reports: per round, per mode and per workload, each setup's burst throughput and
// p99 against the best fixed pool of that round; over the rounds, the worst round of each.
import { WORKLOADS, type PhaseResult, type StepRun, type WorkloadName } from './autoscale-step.load.js'
import { compare, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

/** Quiet, or with a sibling process burning part of a core for the whole run. */
export type Mode = 'quiet' | 'neighbour'

/** One setup's run in one round. */
export interface RunRecord {
  round: number
  mode: Mode
  workload: WorkloadName
  setup: string
  run: StepRun
}

/** One setup against the best fixed pool of its round (ratios > 1: better than it). */
export interface RoundRatio {
  round: number
  mode: Mode
  workload: WorkloadName
  setup: string
  best: string
  throughput: number
  bestThroughput: number
  throughputRatio: number
  p99Millis: number
  bestP99Millis: number
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

/** Each setup's ratios per round, mode and workload; the best fixed pool is the one with the highest burst throughput. */
export function roundRatios(records: readonly RunRecord[]): RoundRatio[] {
  const ratios: RoundRatio[] = []
  for (const group of groupBy(records, (r) => `${r.round}/${r.mode}/${r.workload}`).values()) {
    const fixed = group.filter((r) => r.setup.startsWith('fixed-'))
    if (fixed.length === 0) continue
    const best = fixed.reduce((a, b) => (burstOf(b.run).throughput > burstOf(a.run).throughput ? b : a))
    const top = burstOf(best.run)
    for (const record of group) {
      if (record === best) continue
      const burst = burstOf(record.run)
      ratios.push({
        round: record.round,
        mode: record.mode,
        workload: record.workload,
        setup: record.setup,
        best: best.setup,
        throughput: burst.throughput,
        bestThroughput: top.throughput,
        throughputRatio: burst.throughput / top.throughput,
        p99Millis: burst.p99Millis,
        bestP99Millis: top.p99Millis,
        p99Ratio: top.p99Millis / burst.p99Millis,
      })
    }
  }
  return ratios
}

function caseName(ratio: Pick<RoundRatio, 'setup' | 'workload' | 'mode'>, metric: string): string {
  const setup = ratio.setup.replace('fixed-', 'fixed ')
  return `${setup} ${WORKLOADS[ratio.workload].label} burst ${metric}${ratio.mode === 'neighbour' ? ' (noisy neighbour)' : ''}`
}

/** One row per setup, workload, mode and metric: the worst round's figures. Policies first. */
export function worstRows(ratios: readonly RoundRatio[], rounds: number): ReportRow[] {
  const rows: ReportRow[] = []
  for (const group of groupBy(ratios, (r) => `${r.mode}/${r.workload}/${r.setup}`).values()) {
    const first = group[0] as RoundRatio
    const worstThroughput = group.reduce((a, b) => (b.throughputRatio < a.throughputRatio ? b : a))
    const worstP99 = group.reduce((a, b) => (b.p99Ratio < a.p99Ratio ? b : a))
    const of = rounds > 1 ? ` (worst of ${rounds} rounds)` : ''
    rows.push(
      compare({ case: caseName(first, 'throughput'), metric: `queries/s${of}`, value: worstThroughput.throughput, baseline: `best fixed (${worstThroughput.best})`, baselineValue: worstThroughput.bestThroughput, better: 'higher' }),
      compare({ case: caseName(first, 'p99'), metric: `p99 latency ms${of}`, value: worstP99.p99Millis, baseline: `best fixed (${worstP99.best})`, baselineValue: worstP99.bestP99Millis, better: 'lower' }),
    )
  }
  const rank = (name: string) => (name.startsWith('adaptive') ? 0 : name.startsWith('threshold') ? 1 : 2)
  return rows.sort((a, b) => rank(a.case) - rank(b.case))
}

/** Every round's ratios for the policies, and the worst round per mode and workload. */
export function roundTable(ratios: readonly RoundRatio[]): string {
  const policies = ratios.filter((r) => !r.setup.startsWith('fixed-'))
  const lines = ['round  mode       workload    setup      best fixed  throughput  p99     q/s (best)       p99 ms (best)']
  for (const r of policies) {
    lines.push(
      [
        String(r.round).padStart(5),
        r.mode.padEnd(9),
        WORKLOADS[r.workload].label.padEnd(10),
        r.setup.padEnd(9),
        r.best.padEnd(10),
        `${r.throughputRatio.toFixed(3)}x`.padStart(10),
        `${r.p99Ratio.toFixed(3)}x`.padStart(7),
        `${r.throughput.toFixed(0)} (${r.bestThroughput.toFixed(0)})`.padStart(15),
        `${r.p99Millis.toFixed(1)} (${r.bestP99Millis.toFixed(1)})`.padStart(16),
      ].join('  '),
    )
  }
  lines.push('', 'Worst round per setup (the lower of its throughput and p99 ratios):')
  for (const [key, group] of groupBy(policies, (r) => `${r.setup}/${r.mode}/${r.workload}`)) {
    const worst = group.reduce((a, b) => (Math.min(b.throughputRatio, b.p99Ratio) < Math.min(a.throughputRatio, a.p99Ratio) ? b : a))
    lines.push(`  ${key.padEnd(30)} round ${worst.round}: throughput ${worst.throughputRatio.toFixed(3)}x, p99 ${worst.p99Ratio.toFixed(3)}x`)
  }
  return lines.join('\n') + '\n'
}

/** Medians over the rounds of each phase's figures, per mode, workload and setup. */
export function phaseTable(records: readonly RunRecord[]): string {
  const lines = ['mode       workload    setup       phase  conc    q/s   p99 ms  conn-s  errors']
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
          mid((p) => p.connectionSeconds).toFixed(0).padStart(7),
          String(all.reduce((sum, p) => sum + p.errors, 0)).padStart(7),
        ].join('  '),
      )
    })
  }
  return lines.join('\n') + '\n'
}
