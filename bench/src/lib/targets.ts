// Every benchmark target in one place: which ratio rows must reach which ratio (higher is better, as
// everywhere in bench/results). The summary (`npm run bench -- all`) checks every row against these.

/** One target: rows of `bench` whose case, baseline and metric match must reach `ratio`. */
export interface Target {
  /** The benchmark (a result file's `name`, or its name with a suffix such as `-node20`). */
  bench: string
  /** Matched against the row's `case`; every case when left out. */
  case?: RegExp
  baseline?: RegExp
  metric?: RegExp
  /** The lowest acceptable ratio. */
  ratio: number
  /** Where the target comes from. */
  source: string
}

/** The targets, most specific first: the first that matches a row is its target. */
export const TARGETS: readonly Target[] = [
  { bench: 'pg-overhead', case: /c=100\b/, ratio: 1.1, source: 'issue 10: 10% more queries per second than pg.Pool at c=100' },
  { bench: 'pg-overhead', case: /c=(1|10)\b/, ratio: 1.0, source: 'issue 10: at least pg.Pool at c=1 and c=10' },
  { bench: 'pool-acquire', ratio: 2.0, source: 'issue 10: twice the best of tarn, generic-pool and pg-pool' },
  { bench: 'http-overhead', baseline: /^als-only$/, metric: /CPU/, ratio: 0.95, source: 'issue 15: within 5% of the ALS-only floor' },
  { bench: 'http-overhead', case: /^express /, baseline: /^awilix$/, metric: /CPU/, ratio: 1.15, source: 'http-overhead: cheaper than awilix' },
  { bench: 'http-overhead', case: /^(koa|hono) /, baseline: /^awilix$/, metric: /CPU/, ratio: 1.3, source: 'http-overhead: cheaper than awilix' },
  { bench: 'otel-overhead', case: /^plugin on$/, metric: /CPU/, ratio: 0.98, source: 'issue 15: every instrument on costs at most 2%' },
  { bench: 'autoscale-step', case: /^adaptive /, ratio: 0.9, source: 'issue 15: adaptive vs the best fixed pool, every round, quiet and noisy' },
  { bench: 'fleet', case: /budget/i, baseline: /fair split/, metric: /queries\/s/, ratio: 1.3, source: 'issue 14: shared budget vs a fair split' },
  { bench: 'fleet', case: /budget/i, baseline: /^target: budget/, ratio: 1.0, source: 'issue 14: peak server connections within budget + instances' },
  { bench: 'fleet', case: /budget/i, baseline: /^target: 1%/, ratio: 1.0, source: "issue 14: the budget's reads under 1% of server CPU" },
]

/** The row's fields a target looks at. */
export interface TargetedRow {
  case: string
  baseline: string
  metric: string
}

/**
 * The target of one row of benchmark `bench`, if any.
 *
 * @example
 * targetFor('pg-overhead', { case: 'lifeguard c=100', baseline: 'raw pg.Pool', metric: 'queries/s' })?.ratio // 1.1
 */
export function targetFor(bench: string, row: TargetedRow): Target | undefined {
  return TARGETS.find(
    (t) =>
      (bench === t.bench || bench.startsWith(`${t.bench}-`)) &&
      (t.case === undefined || t.case.test(row.case)) &&
      (t.baseline === undefined || t.baseline.test(row.baseline)) &&
      (t.metric === undefined || t.metric.test(row.metric)),
  )
}
