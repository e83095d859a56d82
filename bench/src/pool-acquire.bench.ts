// The checkout path alone: acquire and release with a factory that does nothing, so only the pools'
// own bookkeeping is measured. Lifeguard's engine (with its metrics and events on, as in production)
// against tarn, generic-pool and pg-pool's queue (given a client that does nothing), at concurrency 1
// (always an idle connection), 10 (pool size: no waiting) and 100 (ten waiters per connection),
// interleaved rounds, median ops/s.
//
//   npm run bench -- pool-acquire [--quick] [--concurrency=1,10,100]
import { EventEmitter } from 'node:events'
import { PoolEngine, PoolMonitor, type ConnectionFactory } from '@lifeguard/core/adapter'
import genericPool from 'generic-pool'
import PgPool from 'pg-pool'
import { Pool as TarnPool } from 'tarn'
import { interleave, samplesOf } from './lib/interleave.js'
import { byMode } from './lib/quick.js'
import { compare, report, type ReportRow } from './lib/report.js'
import { median } from './lib/stats.js'

const POOL_SIZE = 10
const concurrencyArg = process.argv.find((arg) => arg.startsWith('--concurrency='))
const CONCURRENCIES = concurrencyArg === undefined ? [1, 10, 100] : concurrencyArg.slice('--concurrency='.length).split(',').map(Number)

/** A pool reduced to what the benchmark calls. */
interface Contender {
  acquire(): Promise<unknown>
  release(resource: unknown): void
  close(): Promise<void>
}

function lifeguard(): Contender {
  const monitor = new PoolMonitor({ name: 'bench', kind: 'bench', target: 'noop://' })
  const factory: ConnectionFactory<object> = { create: async () => ({}), destroy: () => undefined, isBroken: () => false }
  const engine = new PoolEngine<object>({
    name: 'bench',
    target: 'noop://',
    factory,
    monitor,
    minSize: 0,
    maxSize: POOL_SIZE,
    acquireTimeoutMillis: 10_000,
    connectTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    maxLifetimeMillis: 0,
    maxLifetimeJitterMillis: 0,
    validateAfterIdleMillis: 2_147_483_647,
    maxUses: Infinity,
    retryCreate: true,
  })
  return {
    acquire: () => engine.acquire(undefined),
    release: (lease) => engine.release(lease as Parameters<typeof engine.release>[0]),
    close: () => engine.close(),
  }
}

function tarn(): Contender {
  const pool = new TarnPool<object>({ create: async () => ({}), destroy: () => undefined, min: 0, max: POOL_SIZE, acquireTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 })
  return {
    acquire: () => pool.acquire().promise,
    release: (resource) => void pool.release(resource as object),
    close: () => pool.destroy().then(() => undefined),
  }
}

function generic(): Contender {
  const pool = genericPool.createPool<object>({ create: async () => ({}), destroy: async () => undefined }, { min: 0, max: POOL_SIZE, acquireTimeoutMillis: 10_000, idleTimeoutMillis: 30_000 })
  return {
    acquire: () => pool.acquire(),
    release: (resource) => void pool.release(resource as object),
    close: async () => {
      await pool.drain()
      await pool.clear()
    },
  }
}

// What pg-pool needs of a client: connect and end callbacks, events, and the two flags it reads on release.
class NoopClient extends EventEmitter {
  readonly _queryable = true
  readonly _ending = false
  connect(callback: (error?: Error) => void): void {
    callback()
  }
  end(callback?: () => void): void {
    callback?.()
  }
  ref(): void {}
  unref(): void {}
}

function pgPool(): Contender {
  const pool = new PgPool({ max: POOL_SIZE, idleTimeoutMillis: 30_000, Client: NoopClient as never })
  return {
    acquire: () => pool.connect(),
    release: (client) => (client as { release(): void }).release(),
    close: () => pool.end(),
  }
}

// Closed loop: each worker acquires and releases back to back; the clock is read every 64 checkouts.
async function opsPerSecond(pool: Contender, concurrency: number, durationMillis: number): Promise<number> {
  let count = 0
  const end = performance.now() + durationMillis
  const worker = async () => {
    for (;;) {
      for (let i = 0; i < 64; i++) {
        const resource = await pool.acquire()
        pool.release(resource)
      }
      count += 64
      if (performance.now() >= end) return
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count / ((performance.now() - started) / 1000)
}

const contenders = { lifeguard, tarn, 'generic-pool': generic, 'pg-pool': pgPool } as const
type Name = keyof typeof contenders

async function measure(concurrency: number, durationMillis: number, rounds: number): Promise<ReportRow[]> {
  const pools = Object.fromEntries(Object.entries(contenders).map(([name, make]) => [name, make()])) as Record<Name, Contender>
  // Every pool opens its connections before the first sample.
  for (const pool of Object.values(pools)) await opsPerSecond(pool, POOL_SIZE, 50)
  const results = await interleave(
    (Object.keys(pools) as Name[]).map((name) => ({ name, run: () => opsPerSecond(pools[name], concurrency, durationMillis) })),
    { rounds, onRound: (round, total) => process.stderr.write(`concurrency ${concurrency}: round ${round}/${total}\r`) },
  )
  process.stderr.write('\n')
  await Promise.all(Object.values(pools).map((pool) => pool.close()))
  const ours = median(samplesOf(results, 'lifeguard'))
  const others = (['tarn', 'generic-pool', 'pg-pool'] as const).map((name) => ({ name, value: median(samplesOf(results, name)) }))
  const best = others.reduce((a, b) => (b.value > a.value ? b : a))
  return [
    ...others.map(({ name, value }) => compare({ case: `lifeguard c=${concurrency}`, metric: 'checkouts/s (median)', value: ours, baseline: name, baselineValue: value, better: 'higher' })),
    compare({ case: `lifeguard c=${concurrency}`, metric: 'checkouts/s (median)', value: ours, baseline: `best of the others (${best.name})`, baselineValue: best.value, better: 'higher' }),
  ]
}

async function main(): Promise<void> {
  const durationMillis = byMode({ full: 1000, quick: 100 })
  const rounds = byMode({ full: 7, quick: 5 })
  const rows: ReportRow[] = []
  for (const concurrency of CONCURRENCIES) rows.push(...(await measure(concurrency, durationMillis, rounds)))
  await report('pool-acquire', rows)
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
