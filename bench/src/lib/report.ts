// Prints a benchmark's comparison table and writes it to bench/results/NAME.json.
import { mkdir, writeFile } from 'node:fs/promises'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/** One compared figure. `ratio` > 1 always means Lifeguard (the `case`) did better. */
export interface ReportRow {
  case: string
  metric: string
  value: number
  baseline: string
  baselineValue: number
  ratio: number
}

/** The JSON written to `bench/results/NAME.json`. */
export interface BenchReport {
  name: string
  node: string
  date: string
  rows: ReportRow[]
}

/** Options for {@link report}. */
export interface ReportOptions {
  /** Folder for the JSON file; default `bench/results`. */
  dir?: string
  /** Where the table goes; default stdout. */
  out?: NodeJS.WritableStream
}

const RESULTS_DIR = fileURLToPath(new URL('../../results/', import.meta.url))

/**
 * Ratio for a metric where more is better (throughput): `value / baselineValue`.
 *
 * @example
 * higherIsBetter(9_000, 10_000) // 0.9: Lifeguard serves 90% of the baseline's requests per second
 */
export function higherIsBetter(value: number, baselineValue: number): number {
  return value / baselineValue
}

/**
 * Ratio for a metric where less is better (latency, CPU per request): `baselineValue / value`.
 *
 * @example
 * lowerIsBetter(1.1, 1.0) // ~0.91: Lifeguard's p99 is 10% slower than the baseline's
 */
export function lowerIsBetter(value: number, baselineValue: number): number {
  return baselineValue / value
}

/**
 * Builds a row, computing the ratio in the right orientation.
 *
 * @example
 * compare({ case: 'lifeguard', metric: 'req/s', value, baseline: 'express', baselineValue, better: 'higher' })
 */
export function compare(row: Omit<ReportRow, 'ratio'> & { better: 'higher' | 'lower' }): ReportRow {
  const { better, ...rest } = row
  const ratio = better === 'higher' ? higherIsBetter(row.value, row.baselineValue) : lowerIsBetter(row.value, row.baselineValue)
  return { ...rest, ratio }
}

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value)
  const magnitude = Math.abs(value)
  const digits = magnitude >= 1000 ? 0 : magnitude >= 100 ? 1 : magnitude >= 1 ? 2 : 4
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
}

/**
 * The rows as an aligned text table (numbers right-aligned), ending in a newline.
 *
 * @example
 * process.stdout.write(formatTable(rows))
 */
export function formatTable(rows: readonly ReportRow[]): string {
  const header = ['case', 'metric', 'value', 'baseline', 'baseline value', 'ratio']
  const numeric = [false, false, true, false, true, true]
  const body = rows.map((row) => [
    row.case,
    row.metric,
    formatNumber(row.value),
    row.baseline,
    formatNumber(row.baselineValue),
    Number.isFinite(row.ratio) ? `${row.ratio.toFixed(3)}x` : String(row.ratio),
  ])
  const widths = header.map((title, column) => Math.max(title.length, ...body.map((cells) => (cells[column] ?? '').length)))
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (numeric[column] ? cell.padStart(widths[column] ?? 0) : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd()
  const rule = widths.map((width) => '-'.repeat(width)).join('  ')
  return [line(header), rule, ...body.map(line)].join('\n') + '\n'
}

/**
 * Prints the table and writes `{ name, node, date, rows }` to `bench/results/NAME.json`, creating
 * the folder. A non-finite ratio (a zero baseline) is written as `null`, as JSON has no Infinity.
 *
 * @returns the report and the path it was written to
 * @example
 * await report('pg-overhead', rows)
 */
export async function report(
  name: string,
  rows: readonly ReportRow[],
  options: ReportOptions = {},
): Promise<{ report: BenchReport; path: string }> {
  const out = options.out ?? process.stdout
  const result: BenchReport = { name, node: process.version, date: new Date().toISOString(), rows: [...rows] }
  out.write(`\n${name} (node ${result.node})\n\n${formatTable(rows)}\n`)
  const dir = options.dir ?? RESULTS_DIR
  await mkdir(dir, { recursive: true })
  const path = join(dir, `${name}.json`)
  await writeFile(path, JSON.stringify(result, null, 2) + '\n')
  out.write(`Wrote ${relative(process.cwd(), path)}\n`)
  return { report: result, path }
}
