// What Lifeguard's PostgreSQL pool costs per query: `SELECT 1` against node-postgres's own pg.Pool of
// the same size, at concurrency 1, 10 and 100, in interleaved rounds, two ways: through `context.postgres`
// of a long-lived OperationContext per worker ("lifeguard"), and as a request would ("per request":
// every query gets its own OperationContext and scope, queries through `context.postgres`, and disposes).
// Also prints p99 latency and the first request's latency with and without warm-up.
//
//   npm run bench -- pg-overhead [--quick] [--concurrency=1,10,100]
import { OperationContext, createServiceContainer } from '@lifeguard/core'
import { createPostgresPool, registerPostgres, type PostgresPool } from '@lifeguard/postgres'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { interleave, samplesOf } from './lib/interleave.js'
import { runClosedLoop } from './lib/pg-load.js'
import { pgConnection } from './lib/pg-connection.js'
import { byMode } from './lib/quick.js'
import { compare, report, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

const POOL_SIZE = 10
const QUERY = 'SELECT 1'
const concurrencyArg = process.argv.find((arg) => arg.startsWith('--concurrency='))
const CONCURRENCIES = concurrencyArg === undefined ? [1, 10, 100] : concurrencyArg.slice('--concurrency='.length).split(',').map(Number)

const connection = pgConnection()

// The same pg settings on both sides: size, idle timeout, application_name.
function rawPool(): pg.Pool {
  return new pg.Pool({ ...connection, max: POOL_SIZE, idleTimeoutMillis: 10_000, application_name: 'bench-pg-overhead-raw' })
}

function lifeguardPool(name: string): PostgresPool {
  return createPostgresPool({ ...connection, name, maxSize: POOL_SIZE, idleTimeoutMillis: 10_000, applicationName: 'bench-pg-overhead-lifeguard' })
}

type Case = 'lifeguard' | 'per request' | 'raw'

interface Measured {
  rows: ReportRow[]
  lines: string[]
}

async function measureConcurrency(concurrency: number, raw: pg.Pool, lifeguard: PostgresPool, durationMillis: number, rounds: number): Promise<Measured> {
  const container = registerPostgres(createServiceContainer(), lifeguard)
  // Each closed-loop worker is one operation with its own context and scope; every query goes
  // through the current context's handle, as a route handler's would.
  const contexts = Array.from({ length: concurrency }, () => OperationContext.create('bench', 'SELECT 1', { container }))
  let next = 0
  const viaLifeguard = () => {
    const context = contexts[next++ % concurrency] as OperationContext
    return context.run(() => OperationContext.current().postgres.query(QUERY))
  }
  const perRequest = async () => {
    const context = OperationContext.create('bench', 'SELECT 1', { container })
    try {
      await context.run(() => OperationContext.current().postgres.query(QUERY))
    } finally {
      await context.dispose()
    }
  }
  const viaRaw = () => raw.query(QUERY)
  const p99s: Record<Case, number[]> = { lifeguard: [], 'per request': [], raw: [] }
  const sample = async (name: Case, operation: () => Promise<unknown>) => {
    const result = await runClosedLoop(operation, { concurrency, durationMillis, warmupMillis: byMode({ full: 300, quick: 50 }) })
    p99s[name].push(result.latencyP99Millis)
    return result.throughputPerSec
  }
  const results = await interleave(
    [
      { name: 'lifeguard', run: () => sample('lifeguard', viaLifeguard) },
      { name: 'per request', run: () => sample('per request', perRequest) },
      { name: 'raw', run: () => sample('raw', viaRaw) },
    ],
    { rounds, onRound: (round, total) => process.stderr.write(`concurrency ${concurrency}: round ${round}/${total}\r`) },
  )
  process.stderr.write('\n')
  await Promise.all(contexts.map((context) => context.dispose()))
  const rawRate = samplesOf(results, 'raw')
  const row = (name: 'lifeguard' | 'per request') =>
    compare({
      case: `${name} c=${concurrency}`,
      metric: 'queries/s (median)',
      value: median(samplesOf(results, name)),
      baseline: 'raw pg.Pool',
      baselineValue: median(rawRate),
      better: 'higher',
    })
  // Each round runs every case back to back: the median of per-round ratios shrugs off drift between rounds.
  const paired = (name: Case) => median(samplesOf(results, name).map((value, index) => value / (rawRate[index] as number))).toFixed(3)
  return {
    rows: [row('lifeguard'), row('per request')],
    lines: [
      `c=${String(concurrency).padEnd(3)}  p99 latency (median of ${rounds} rounds): lifeguard ${median(p99s.lifeguard).toFixed(3)}ms, per request ${median(p99s['per request']).toFixed(3)}ms, raw pg.Pool ${median(p99s.raw).toFixed(3)}ms; median per-round ratios ${paired('lifeguard')} / ${paired('per request')}`,
    ],
  }
}

// A fresh pool per sample: the first query either opens its connection or finds one warmed up.
async function firstRequestLatency(runs: number): Promise<string[]> {
  const cold: number[] = []
  const warm: number[] = []
  const warmups: number[] = []
  for (let i = 0; i < runs; i++) {
    const coldPool = lifeguardPool(`cold-${i}`)
    let started = performance.now()
    await coldPool.query(QUERY)
    cold.push(performance.now() - started)
    await coldPool.close()

    const warmPool = lifeguardPool(`warm-${i}`)
    warmups.push((await warmPool.warmup()).durationMillis)
    started = performance.now()
    await warmPool.query(QUERY)
    warm.push(performance.now() - started)
    await warmPool.close()
  }
  return [
    `without warm-up: ${median(cold).toFixed(3)}ms (opens a connection)`,
    `after warmup():  ${median(warm).toFixed(3)}ms (warm-up itself took ${median(warmups).toFixed(3)}ms)`,
  ]
}

async function main(): Promise<void> {
  const durationMillis = byMode({ full: 1500, quick: 200 })
  const rounds = byMode({ full: 9, quick: 5 })
  const raw = rawPool()
  const lifeguard = lifeguardPool('bench')
  // Both pools start with every connection open, so no sample pays for connecting.
  const rawClients = await Promise.all(Array.from({ length: POOL_SIZE }, () => raw.connect()))
  for (const client of rawClients) client.release()
  await lifeguard.warmup({ connections: POOL_SIZE })

  const rows: ReportRow[] = []
  const lines: string[] = []
  try {
    for (const concurrency of CONCURRENCIES) {
      const measured = await measureConcurrency(concurrency, raw, lifeguard, durationMillis, rounds)
      rows.push(...measured.rows)
      lines.push(...measured.lines)
    }
  } finally {
    await Promise.all([lifeguard.close(), raw.end()])
  }
  const first = await firstRequestLatency(byMode({ full: 10, quick: 3 }))
  await report('pg-overhead', rows)
  process.stdout.write(`\nLatency and paired ratios (not ratio rows):\n${lines.map((line) => `  ${line}`).join('\n')}\n`)
  process.stdout.write(`\nFirst request on a new pool (median of ${byMode({ full: 10, quick: 3 })}):\n${first.map((line) => `  ${line}`).join('\n')}\n`)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
