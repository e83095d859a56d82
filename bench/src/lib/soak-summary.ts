// What a soak run found: the summary tables it prints, the ratio rows it writes, and the checks that
// make it fail.
import { slope, type Point } from './linear-fit.js'
import type { FaultResult } from './soak-faults.js'
import type { LoadTally } from './soak-load.js'
import type { PoolCounts } from './soak-service.js'
import type { ReportRow } from './report.js'

/** One heap sample: bytes in use after a GC, at `atMillis` since the load began. */
export interface HeapSample {
  atMillis: number
  heapUsed: number
}

/** Everything a run measured. */
export interface SoakResult {
  framework: string
  quick: boolean
  durationMillis: number
  tally: LoadTally
  faults: FaultResult[]
  recoveryBoundMillis: number
  heap: HeapSample[]
  /** Heap samples before this are left out of the fit (start-up, JIT, caches filling). */
  heapFitFromMillis: number
  heapAllowanceMbPerMin: number
  /** After the load stopped: nothing checked out or waiting, and the server agreeing with the pool. */
  quiet: { ok: boolean; server: number | undefined; pool: PoolCounts | undefined }
  exitCode: number | null
  /** The server's count for the service's application_name after it exited. */
  leftAfterExit: number | undefined
  /** Lines of the service's log: unexpected errors (500s, also unsent ones), pool error events, leak reports. */
  serviceLog: { unexpected: number; poolErrors: number; leaks: number }
  loadAverage: { start: number[]; end: number[] }
}

const MB = 1024 * 1024

/** Heap growth in MB per minute (least squares over the samples after `heapFitFromMillis`), or `undefined` with too few. */
export function heapSlopeMbPerMin(result: Pick<SoakResult, 'heap' | 'heapFitFromMillis'>): number | undefined {
  const points: Point[] = result.heap.filter((s) => s.atMillis >= result.heapFitFromMillis).map((s) => ({ x: s.atMillis / 60_000, y: s.heapUsed / MB }))
  return points.length < 3 ? undefined : slope(points)
}

// part / whole, where nothing to count is a full score (no 5xx at all: none untyped).
function share(part: number, whole: number): number {
  return whole === 0 ? 1 : part / whole
}

/** The ratio rows of `bench/results/soak.json`, each oriented so that higher is better. */
export function soakRows(result: SoakResult): ReportRow[] {
  const { tally, faults } = result
  const subject = `orders-api (${result.framework})`
  const row = (metric: string, value: number, baseline: string, baselineValue: number, ratio: number): ReportRow => ({ case: subject, metric, value, baseline, baselineValue, ratio })
  const boundSeconds = result.recoveryBoundMillis / 1000
  const recovered = faults.filter((f) => f.recoveryMillis !== undefined)
  const rows = [
    row('requests answered / requests sent', tally.answered, 'requests sent', tally.sent, share(tally.answered, tally.sent)),
    row('typed 5xx / all 5xx', tally.typedServerErrors, 'all 5xx', tally.serverErrors, share(tally.typedServerErrors, tally.serverErrors)),
    row('expected answers / answered (route status or typed 503)', tally.asExpected, 'answered', tally.answered, share(tally.asExpected, tally.answered)),
    row(`faults recovered within ${boundSeconds} s / faults`, recovered.length, 'faults', faults.length, share(recovered.length, faults.length)),
  ]
  if (recovered.length > 0) {
    const worst = Math.max(...recovered.map((f) => f.recoveryMillis as number)) / 1000
    rows.push(row('slowest recovery (s)', worst, 'bound (s)', boundSeconds, boundSeconds / Math.max(worst, 0.001)))
  }
  const heapSlope = heapSlopeMbPerMin(result)
  if (heapSlope !== undefined) {
    // A flat or falling heap scores allowance / (1% of allowance) = 100, not infinity.
    const allowance = result.heapAllowanceMbPerMin
    rows.push(row('heap after GC, slope (MB/min)', heapSlope, 'allowance (MB/min)', allowance, allowance / Math.max(heapSlope, allowance / 100)))
  }
  return rows
}

/** Why the run failed, one line per failed check; empty when it passed. */
export function failedChecks(result: SoakResult): string[] {
  const { tally } = result
  const failures: string[] = []
  const noResponse = tally.sent - tally.answered
  if (noResponse > 0) failures.push(`${noResponse} request(s) got no response: ${describe(tally.noResponse)}`)
  const untyped = tally.serverErrors - tally.typedServerErrors
  if (untyped > 0) failures.push(`${untyped} 5xx response(s) without a known problem code: ${describe(tally.serverErrorCodes)}`)
  for (const fault of result.faults) {
    if (fault.recoveryMillis === undefined) failures.push(`no recovery within ${result.recoveryBoundMillis} ms after '${fault.kind}' at ${clock(fault.atMillis)}: ${fault.missing}`)
  }
  if (result.serviceLog.unexpected > 0) failures.push(`the service logged ${result.serviceLog.unexpected} unexpected error(s)`)
  if (!result.quiet.ok) failures.push(`after the load: server count ${result.quiet.server ?? 'unreachable'}, pool ${JSON.stringify(result.quiet.pool)}`)
  if (result.exitCode !== 0) failures.push(`the service exited with ${result.exitCode} on SIGTERM`)
  if (result.leftAfterExit !== 0) failures.push(`${result.leftAfterExit ?? 'unknown'} server connection(s) left after the service exited`)
  const heapSlope = heapSlopeMbPerMin(result)
  // A --quick run is too short for a trend: its slope is printed, never judged.
  if (!result.quick) {
    if (heapSlope === undefined) failures.push('too few heap samples for a slope')
    else if (heapSlope > result.heapAllowanceMbPerMin) failures.push(`heap grows ${heapSlope.toFixed(3)} MB/min, above the allowance of ${result.heapAllowanceMbPerMin}`)
  }
  return failures
}

/** The human summary: load, faults, heap and the end of the run. */
export function formatSummary(result: SoakResult): string {
  const { tally } = result
  const lines: string[] = []
  const minutes = result.durationMillis / 60_000
  lines.push(`\nsoak: orders-api (${result.framework}), ${minutes.toFixed(1)} min, load average ${result.loadAverage.start.map((n) => n.toFixed(2)).join(' ')} at start, ${result.loadAverage.end.map((n) => n.toFixed(2)).join(' ')} at end`)
  lines.push(`\nrequests: ${tally.sent} sent, ${tally.answered} answered (${(tally.answered / (result.durationMillis / 1000)).toFixed(1)}/s), ${tally.aborted} aborted by the bench, no response: ${describe(tally.noResponse) || '0'}`)
  lines.push(`5xx: ${tally.serverErrors} (${describe(tally.serverErrorCodes) || 'none'}); without x-request-id: ${tally.missingRequestId}; resent after a stale keep-alive socket: ${tally.staleSocketRetries}`)
  lines.push('')
  lines.push(table(['route', 'answers by status'], [...tally.byKind].map(([kind, statuses]) => [kind, describe(statuses)])))
  lines.push('')
  lines.push(
    table(
      ['at', 'fault', 'what', 'conns before', 'server / pool after', 'recovered in'],
      result.faults.map((f) => [clock(f.atMillis), f.kind, f.detail, String(f.before ?? '-'), `${f.after ?? '-'} / ${f.poolAfter ?? '-'}`, f.recoveryMillis === undefined ? `not in ${result.recoveryBoundMillis / 1000} s` : `${(f.recoveryMillis / 1000).toFixed(2)} s`]),
    ),
  )
  const mb = result.heap.map((s) => s.heapUsed / MB)
  const heapSlope = heapSlopeMbPerMin(result)
  if (mb.length > 0) {
    lines.push(`\nheap after GC: ${mb.length} samples, first ${mb[0]?.toFixed(2)} MB, last ${mb.at(-1)?.toFixed(2)} MB, min ${Math.min(...mb).toFixed(2)}, max ${Math.max(...mb).toFixed(2)}`)
    lines.push(`heap slope after ${clock(result.heapFitFromMillis)}: ${heapSlope === undefined ? 'too few samples' : `${heapSlope.toFixed(3)} MB/min`} (allowance ${result.heapAllowanceMbPerMin} MB/min${result.quick ? ', not judged in a --quick run' : ''})`)
  }
  const pool = result.quiet.pool
  lines.push(`after the load: ${result.quiet.ok ? 'quiet' : 'NOT quiet'}, server ${result.quiet.server ?? '-'} connection(s), pool ${pool?.totalConnections ?? '-'} (errors ${pool?.errors ?? '-'}, timeouts ${pool?.timeouts ?? '-'}, leaks ${pool?.leaks ?? '-'})`)
  lines.push(`service log: ${result.serviceLog.unexpected} unexpected error(s), ${result.serviceLog.poolErrors} pool error event(s), ${result.serviceLog.leaks} leak report(s)`)
  lines.push(`SIGTERM: exit code ${result.exitCode}, server connections left ${result.leftAfterExit ?? 'unknown'}`)
  if (tally.examples.length > 0) lines.push(`\nfirst failures:\n  ${tally.examples.join('\n  ')}`)
  return lines.join('\n') + '\n'
}

/** `m:ss` since the load began. */
export function clock(millis: number): string {
  const total = Math.round(millis / 1000)
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`
}

function describe(counts: ReadonlyMap<string | number, number>): string {
  return [...counts].map(([key, n]) => `${key}: ${n}`).join(', ')
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}
