// What turning @lifeguard/otel on costs an HTTP service: the same node:http app doing one PostgreSQL
// query per request through a Lifeguard pool, run twice side by side, once with the plugin on (SDK
// MeterProvider registered globally, Prometheus exporter serving /metrics) and once without the
// plugin. Rounds interleave the two; medians are reported with "plugin off" as the baseline.
//
// A third app runs the plugin with `operationDuration: false` (pool metrics only), to show what the
// per-query operation histogram costs on its own.
//
// Every instrument is exercised while the load runs: each app's /metrics is scraped once a second (a
// collection runs the observable instruments' callback and hands every held-back sample to the SDK), so
// the scrapes' CPU is in the server's CPU per request. The plugin-off app answers the scrape with a 404.
//
// This file is also the server: `--serve on|pool-only|off` starts one app instead of the benchmark.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { fileURLToPath } from 'node:url'
import { createPoolRegistry, createServiceContainer, OperationContext } from '@lifeguard/core'
import { instrumentPools } from '@lifeguard/otel'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { metrics } from '@opentelemetry/api'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { runAutocannonPinned, spawnPinnedServer, type PinnedServer } from './lib/http-load.js'
import { interleave } from './lib/interleave.js'
import { announceListening } from './lib/listening.js'
import { pgConnection } from './lib/pg-connection.js'
import { byMode } from './lib/quick.js'
import { compare, report } from './lib/report.js'
import { median } from './lib/stats.js'

const POOL_SIZE = 10
const CONNECTIONS = 32
// Prometheus scrapes every 15 s by default; once a second makes a collection's cost visible.
const SCRAPE_INTERVAL_MILLIS = 1000

type Mode = 'on' | 'pool-only' | 'off'

async function serve(mode: Mode): Promise<void> {
  const env = process.env
  const registry = createPoolRegistry()
  const pool = registry.register(
    createPostgresPool({
      name: 'orders',
      ...pgConnection(env),
      applicationName: `lifeguard-bench-otel-${mode}-${process.pid}`,
      minSize: POOL_SIZE,
      maxSize: POOL_SIZE,
    }),
  )
  await registry.warmup()
  let metricsEndpoint: ((request: IncomingMessage, response: ServerResponse) => void) | undefined
  if (mode !== 'off') {
    const exporter = new PrometheusExporter({ preventServerStart: true })
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [exporter] }))
    instrumentPools(registry, { operationDuration: mode === 'on' })
    metricsEndpoint = (request, response) => exporter.getMetricsRequestHandler(request, response)
  }
  const container = createServiceContainer()
  registerPostgres(container, pool)
  const server = createServer((request, response) => {
    if (request.url === '/metrics') {
      if (metricsEndpoint !== undefined) return metricsEndpoint(request, response)
      response.statusCode = 404
      return response.end()
    }
    // What the framework middleware does: one operation context per request, disposed at the end.
    const context = OperationContext.create('orders-api', 'GET /orders/:id', { container })
    context
      .run(() => context.postgres.query<{ id: number }>('SELECT $1::int AS id', [42]))
      .then(
        (result) => {
          response.setHeader('content-type', 'application/json')
          response.end(JSON.stringify(result.rows[0]))
        },
        () => {
          response.statusCode = 500
          response.end()
        },
      )
      .finally(() => context.dispose())
  })
  server.listen(0, '127.0.0.1', () => announceListening(server))
  process.once('SIGTERM', () => {
    server.close()
    registry.close().finally(() => process.exit(0))
  })
}

const CASES = [
  { mode: 'on', name: 'plugin on' },
  { mode: 'pool-only', name: 'plugin on, operationDuration: false' },
  { mode: 'off', name: 'plugin off' },
] as const

interface Samples {
  requestsPerSec: number[]
  p99Millis: number[]
  cpuMicros: number[]
}

async function main(): Promise<void> {
  const script = fileURLToPath(import.meta.url)
  const servers = new Map<Mode, PinnedServer>()
  try {
    for (const { mode } of CASES) servers.set(mode, await spawnPinnedServer(script, ['--serve', mode], 0))
    const samples = new Map<Mode, Samples>(CASES.map(({ mode }) => [mode, { requestsPerSec: [], p99Millis: [], cpuMicros: [] }]))
    const load = async (mode: Mode): Promise<number> => {
      const server = servers.get(mode) as PinnedServer
      const scraper = setInterval(() => void fetch(`${server.url}/metrics`).then((response) => response.text()).catch(() => undefined), SCRAPE_INTERVAL_MILLIS)
      let result: Awaited<ReturnType<typeof runAutocannonPinned>>
      try {
        result = await runAutocannonPinned({
          url: `${server.url}/orders/42`,
          server,
          core: 1,
          connections: CONNECTIONS,
          durationMillis: byMode({ full: 5000, quick: 500 }),
          warmupMillis: byMode({ full: 1000, quick: 200 }),
        })
      } finally {
        clearInterval(scraper)
      }
      const into = samples.get(mode) as Samples
      into.requestsPerSec.push(result.requestsPerSec)
      into.p99Millis.push(result.latencyP99Millis)
      if (result.cpuMicrosPerRequest !== undefined) into.cpuMicros.push(result.cpuMicrosPerRequest)
      return result.requestsPerSec
    }
    await interleave(
      CASES.map(({ mode, name }) => ({ name, run: () => load(mode) })),
      { rounds: byMode({ full: 10, quick: 5 }), onRound: (round, rounds) => process.stderr.write(`round ${round}/${rounds}\n`) },
    )
    // The plugin was really on: the exposition holds the pool's metrics (and the plain app serves none).
    const exposition = await (await fetch(`${servers.get('on')?.url}/metrics`)).text()
    if (!/db_client_operation_duration_bucket\{db_client_connection_pool_name="orders"[^}]*db_operation_name="SELECT"/.test(exposition)) {
      throw new Error('Could not find the per-query operation metrics in the plugin-on exposition.')
    }
    if ((await fetch(`${servers.get('off')?.url}/metrics`)).status !== 404) throw new Error('The plugin-off app serves metrics.')

    const off = samples.get('off') as Samples
    const rows = CASES.filter(({ mode }) => mode !== 'off').flatMap(({ mode, name }) => {
      const on = samples.get(mode) as Samples
      const caseRows = [
        compare({ case: name, metric: 'req/s (median)', value: median(on.requestsPerSec), baseline: 'plugin off', baselineValue: median(off.requestsPerSec), better: 'higher' }),
        compare({ case: name, metric: 'latency p99 ms (median of rounds)', value: median(on.p99Millis), baseline: 'plugin off', baselineValue: median(off.p99Millis), better: 'lower' }),
      ]
      if (on.cpuMicros.length > 0 && off.cpuMicros.length > 0) {
        caseRows.push(compare({ case: name, metric: 'server CPU us/request (median)', value: median(on.cpuMicros), baseline: 'plugin off', baselineValue: median(off.cpuMicros), better: 'lower' }))
      }
      return caseRows
    })
    await report('otel-overhead', rows)
  } finally {
    await Promise.all([...servers.values()].map((server) => server.close()))
  }
}

const serveAt = process.argv.indexOf('--serve')
const run = serveAt >= 0 ? serve((process.argv[serveAt + 1] ?? 'off') as Mode) : main()
run.catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
