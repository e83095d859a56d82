// Writes bench/results/summary.md: every ratio row of every result file against its target, the
// machine, the Node version and the load average, and the plots beside it. Run by
// `npm run bench -- all` after the benchmarks, or alone with `npm run bench -- summary`.
import { existsSync } from 'node:fs'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { cpus, loadavg, release, totalmem } from 'node:os'
import { fileURLToPath } from 'node:url'
import type { BenchReport, ReportRow } from './lib/report.js'
import { targetFor } from './lib/targets.js'

const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url))

/** What `npm run bench -- all` records about each benchmark it ran (bench/results/all-run.json). */
export interface AllRun {
  startedAt: string
  finishedAt: string
  quick: boolean
  node: string
  benches: { name: string; exitCode: number | null; seconds: number; loadBefore: number[]; loadAfter: number[] }[]
}

function isReport(value: unknown): value is BenchReport {
  const report = value as Partial<BenchReport> | null
  return typeof report?.name === 'string' && typeof report.node === 'string' && Array.isArray(report.rows)
}

async function readReports(): Promise<{ file: string; report: BenchReport }[]> {
  const files = (await readdir(RESULTS_DIR)).filter((file) => file.endsWith('.json') && file !== 'all-run.json').sort()
  const reports: { file: string; report: BenchReport }[] = []
  for (const file of files) {
    try {
      const parsed: unknown = JSON.parse(await readFile(`${RESULTS_DIR}${file}`, 'utf8'))
      if (isReport(parsed)) reports.push({ file, report: parsed })
    } catch {
      // Not a result file (or a half-written one): not part of the summary.
    }
  }
  return reports
}

function number(value: number | null): string {
  if (value === null || !Number.isFinite(value)) return 'n/a'
  const digits = Math.abs(value) >= 1000 ? 0 : Math.abs(value) >= 100 ? 1 : Math.abs(value) >= 1 ? 2 : 4
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|')
}

function rowLine(bench: string, row: ReportRow): { line: string; met: boolean | undefined } {
  const target = targetFor(bench, row)
  const ratio = row.ratio as number | null
  const met = target === undefined ? undefined : ratio !== null && ratio >= target.ratio
  const verdict = met === undefined ? '' : met ? 'met' : '**missed**'
  const cells = [bench, row.case, row.metric, number(row.value), row.baseline, number(row.baselineValue), ratio === null ? 'n/a' : `${ratio.toFixed(3)}x`, target === undefined ? '' : `>= ${target.ratio}`, verdict]
  return { line: `| ${cells.map(cell).join(' | ')} |`, met }
}

function load(values: readonly number[]): string {
  return values.map((v) => v.toFixed(2)).join(' / ')
}

/**
 * Builds the summary from the result files (only those written since `run.startedAt` when a run is given).
 *
 * @returns the Markdown text
 */
async function buildSummary(run: AllRun | undefined): Promise<string> {
  const since = run === undefined ? 0 : Date.parse(run.startedAt)
  const all = await readReports()
  const reports = all.filter(({ report }) => Date.parse(report.date) >= since)
  const stale = all.filter(({ report }) => Date.parse(report.date) < since)
  const cpu = cpus()
  const lines = [
    '# Benchmark summary',
    '',
    run === undefined ? `Written ${new Date().toISOString()} from the result files in bench/results.` : `\`npm run bench -- all${run.quick ? ' --quick' : ''}\` from ${run.startedAt} to ${run.finishedAt}${run.quick ? ' (a smoke run: the numbers mean nothing)' : ''}.`,
    '',
    `- Machine: ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${release()}`,
    `- Node: ${[...new Set(reports.map(({ report }) => report.node))].join(', ') || process.version}`,
    `- Load average (1 / 5 / 15 min) when this was written: ${load(loadavg())}`,
    '',
    '| benchmark | case | metric | value | baseline | baseline value | ratio | target | |',
    '| --- | --- | --- | ---: | --- | ---: | ---: | ---: | --- |',
  ]
  let missed = 0
  let met = 0
  for (const { report } of reports) {
    for (const row of report.rows) {
      const { line, met: ok } = rowLine(report.name, row)
      lines.push(line)
      if (ok === true) met++
      if (ok === false) missed++
    }
  }
  lines.push('', `Targets: ${met} met, ${missed} missed. Ratios are oriented so that higher is better for Lifeguard.`)
  if (run !== undefined) {
    lines.push('', '| benchmark | exit | minutes | load average before | load average after |', '| --- | ---: | ---: | --- | --- |')
    for (const bench of run.benches) lines.push(`| ${bench.name} | ${bench.exitCode ?? 'killed'} | ${(bench.seconds / 60).toFixed(1)} | ${load(bench.loadBefore)} | ${load(bench.loadAfter)} |`)
  }
  if (stale.length > 0) lines.push('', `Older result files not from this run (left out): ${stale.map(({ file }) => file).join(', ')}.`)
  const plots = (await readdir(RESULTS_DIR)).filter((file) => file.endsWith('.svg')).sort()
  if (plots.length > 0) lines.push('', '## Plots', '', ...plots.map((file) => `![${file.replace(/\.svg$/, '')}](${file})\n`))
  return lines.join('\n') + '\n'
}

async function main(): Promise<void> {
  const runFile = `${RESULTS_DIR}all-run.json`
  const run = process.argv.includes('--all-run') && existsSync(runFile) ? (JSON.parse(await readFile(runFile, 'utf8')) as AllRun) : undefined
  await writeFile(`${RESULTS_DIR}summary.md`, await buildSummary(run))
  process.stdout.write('Wrote bench/results/summary.md\n')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
