// The fleet benchmark's figures: per-run lines, medians over rounds, and the ratio rows for
// bench/results/fleet.json (higher is better for the shared budget).
import type { RunResult, Setup } from './fleet.run.js'
import { compare, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

/** One setup over all rounds. */
export interface MergedResult {
  setup: string
  rounds: number
  /** Medians over rounds. */
  throughput: number
  p50Millis: number
  p99Millis: number
  hotP99Millis: number
  calmP99Millis: number
  meanServer: number
  /** Worst over rounds. */
  peakServer: number
  /** Totals over rounds. */
  failed: number
  refused: number
  connectErrors: number
  budgetReads: number
  budgetReadMillis: number
  serverCpuMillis: number
  runMillis: number
  firstError: string | undefined
}

/** The budget and what the server allows, for the rows. */
export interface BudgetFigures {
  budget: number
  instances: number
  /** Connections the fleet's role can open at most. */
  hardLimit: number
  /** Server CPU per budget count query, measured directly (ms). */
  cpuPerReadMillis: number
}

export function runLine(round: number, key: string, run: RunResult): string {
  const budget = run.budget.calls > 0 ? `, ${run.budget.calls} budget reads` : ''
  const error = run.firstError === undefined ? '' : `\n    first error: ${run.firstError}`
  return (
    `round ${round} ${key.padEnd(9)} ${run.throughput.toFixed(0).padStart(6)} q/s  p50 ${run.p50Millis.toFixed(1).padStart(6)} ms  p99 ${run.p99Millis.toFixed(1).padStart(6)} ms ` +
    `(hot ${run.hotP99Millis.toFixed(1)}, calm ${run.calmP99Millis.toFixed(1)})  server conns peak ${run.peakServer} mean ${run.meanServer.toFixed(1)}  ` +
    `refused ${run.refused}  failed ${run.failed}  resizes ${run.resizes}${budget}  ` +
    `CPU: instances ${((100 * run.clientCpuMillis) / run.runMillis).toFixed(0)}%, server ${((100 * run.serverCpuMillis) / run.runMillis).toFixed(0)}% of a core${error}\n`
  )
}

export function mergeRounds(runs: readonly RunResult[]): MergedResult[] {
  const groups = new Map<string, RunResult[]>()
  for (const run of runs) groups.set(run.setup, [...(groups.get(run.setup) ?? []), run])
  return [...groups.entries()].map(([setup, group]) => {
    const mid = (pick: (r: RunResult) => number) => median(group.map(pick))
    const total = (pick: (r: RunResult) => number) => group.reduce((sum, r) => sum + pick(r), 0)
    return {
      setup,
      rounds: group.length,
      throughput: mid((r) => r.throughput),
      p50Millis: mid((r) => r.p50Millis),
      p99Millis: mid((r) => r.p99Millis),
      hotP99Millis: mid((r) => r.hotP99Millis),
      calmP99Millis: mid((r) => r.calmP99Millis),
      meanServer: mid((r) => r.meanServer),
      peakServer: Math.max(...group.map((r) => r.peakServer)),
      failed: total((r) => r.failed),
      refused: total((r) => r.refused),
      connectErrors: total((r) => r.connectErrors),
      budgetReads: total((r) => r.budget.calls),
      budgetReadMillis: total((r) => r.budget.millis),
      serverCpuMillis: total((r) => r.serverCpuMillis),
      runMillis: total((r) => r.runMillis),
      firstError: group.find((r) => r.firstError !== undefined)?.firstError,
    }
  })
}

export function summaryTable(merged: readonly MergedResult[]): string {
  const lines = ['setup                           q/s   p50 ms   p99 ms  hot p99  calm p99  peak conns  mean conns  refused  failed']
  for (const m of merged) {
    lines.push(
      [
        m.setup.padEnd(28),
        m.throughput.toFixed(0).padStart(6),
        m.p50Millis.toFixed(1).padStart(7),
        m.p99Millis.toFixed(1).padStart(8),
        m.hotP99Millis.toFixed(1).padStart(7),
        m.calmP99Millis.toFixed(1).padStart(8),
        String(m.peakServer).padStart(10),
        m.meanServer.toFixed(1).padStart(10),
        String(m.refused).padStart(7),
        String(m.failed).padStart(6),
      ].join('  '),
    )
  }
  return lines.join('\n') + '\n'
}

/** The shared budget's share of server CPU spent on its count queries, in percent (direct measure and pg_stat_statements). */
export function budgetCpuShare(shared: MergedResult, cpuPerReadMillis: number): { direct: number; statements: number; readsPerSecond: number } {
  return {
    direct: (100 * shared.budgetReads * cpuPerReadMillis) / shared.serverCpuMillis,
    statements: (100 * shared.budgetReadMillis) / shared.serverCpuMillis,
    readsPerSecond: (shared.budgetReads * 1000) / shared.runMillis,
  }
}

/** What the budget's reads cost the server, as a printed line. */
export function budgetCostLine(merged: readonly MergedResult[], setups: Record<string, Setup>, figures: BudgetFigures, cores: number): string {
  const shared = merged.find((m) => m.setup === setups['shared']?.name)
  if (shared === undefined || shared.budgetReads === 0) return ''
  const share = budgetCpuShare(shared, figures.cpuPerReadMillis)
  const serverCpu = shared.serverCpuMillis / shared.runMillis
  return (
    `budget reads: ${share.readsPerSecond.toFixed(1)}/s, ${(figures.cpuPerReadMillis * 1000).toFixed(0)} us of server CPU each (measured on one connection), ` +
    `${(shared.budgetReadMillis / shared.budgetReads * 1000).toFixed(0)} us each inside the server (pg_stat_statements, wall time)\n` +
    `server CPU during the shared-budget runs: ${(serverCpu * 100).toFixed(1)}% of one core; the reads took ${share.direct.toFixed(2)}% of it ` +
    `(${share.statements.toFixed(2)}% by pg_stat_statements), ${(share.direct * serverCpu / cores).toFixed(3)}% of the machine's ${cores} cores\n`
  )
}

/** Rows comparing the shared budget with the fixed setups and with its targets. */
export function budgetRows(merged: readonly MergedResult[], setups: Record<string, Setup>, figures: BudgetFigures): ReportRow[] {
  const find = (key: string) => merged.find((m) => m.setup === setups[key]?.name)
  const bouncerRows: ReportRow[] = []
  // PgBouncer against the fair split: the same budget, enforced by PgBouncer's pool size instead.
  const bouncer = find('pgbouncer')
  const fair = find('fair')
  if (bouncer !== undefined && fair !== undefined) {
    const bouncerCase = `PgBouncer transaction pooling, ${figures.instances} instances`
    const baseline = (setups['fair'] as Setup).name
    bouncerRows.push(compare({ case: bouncerCase, metric: `fleet queries/s (median of ${bouncer.rounds} rounds)`, value: bouncer.throughput, baseline, baselineValue: fair.throughput, better: 'higher' }))
    bouncerRows.push(compare({ case: bouncerCase, metric: `fleet p99 latency ms (median of ${bouncer.rounds} rounds)`, value: bouncer.p99Millis, baseline, baselineValue: fair.p99Millis, better: 'lower' }))
    bouncerRows.push(compare({ case: bouncerCase, metric: 'peak server connections (worst round)', value: bouncer.peakServer, baseline: `target: budget ${figures.budget} (PgBouncer's default_pool_size)`, baselineValue: figures.budget, better: 'lower' }))
  }
  const shared = find('shared')
  if (shared === undefined) return bouncerRows
  const rows: ReportRow[] = [...bouncerRows]
  const caseName = `shared budget, ${figures.instances} instances`
  const rounds = `median of ${shared.rounds} rounds`
  for (const key of ['fair', 'unbounded']) {
    const other = find(key)
    if (other === undefined) continue
    const baseline = (setups[key] as Setup).name
    rows.push(compare({ case: caseName, metric: `fleet queries/s (${rounds})`, value: shared.throughput, baseline, baselineValue: other.throughput, better: 'higher' }))
    rows.push(compare({ case: caseName, metric: `fleet p99 latency ms (${rounds})`, value: shared.p99Millis, baseline, baselineValue: other.p99Millis, better: 'lower' }))
    if (key === 'fair') continue
    // Against the fixed pools that ask for more than the server has: what the budget is for.
    rows.push(compare({ case: caseName, metric: 'peak server connections (worst round)', value: shared.peakServer, baseline, baselineValue: other.peakServer, better: 'lower' }))
    rows.push(compare({ case: caseName, metric: 'errors: refused connections (53300) + failed operations (all rounds)', value: shared.refused + shared.failed, baseline, baselineValue: other.refused + other.failed, better: 'lower' }))
  }
  const transient = figures.budget + figures.instances
  rows.push(compare({ case: caseName, metric: 'peak server connections (worst round)', value: shared.peakServer, baseline: `target: budget ${figures.budget} + ${figures.instances} instances`, baselineValue: transient, better: 'lower' }))
  if (shared.budgetReads > 0) {
    const share = budgetCpuShare(shared, figures.cpuPerReadMillis)
    rows.push(compare({ case: caseName, metric: "budget reads' share of the server's CPU time (%)", value: share.direct, baseline: 'target: 1%', baselineValue: 1, better: 'lower' }))
  }
  return rows
}
