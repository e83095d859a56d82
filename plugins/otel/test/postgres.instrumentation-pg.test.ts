// Lifeguard's db.client.operation.duration beside @opentelemetry/instrumentation-pg's, which records the
// same histogram for every pg query: what an application running both sees, and the two ways to keep one.
import { createRequire } from 'node:module'
import { createPoolRegistry, createServiceContainer, runOperation, type PoolRegistry, type ServiceContainer } from '@lifeguard/core'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg'
import { AggregationType, type ViewOptions } from '@opentelemetry/sdk-metrics'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { instrumentPools, meterName, metricNames, type InstrumentPoolsOptions } from '../src/index.js'
import { createMetricsHarness, type MetricsHarness } from './_helpers/metrics.js'
import { pgConfig, uniqueAppName, waitForServerConnections } from './_helpers/pg.js'

const pgScope = '@opentelemetry/instrumentation-pg'
const QUERIES = 5

interface Context {
  instrumentation: PgInstrumentation
}

const both = suite<Context>('beside @opentelemetry/instrumentation-pg', {} as Context)

both.before((context) => {
  context.instrumentation = new PgInstrumentation()
  // Its require hook patches pg.Client.prototype.query, which every Lifeguard client inherits.
  createRequire(import.meta.url)('pg')
})

both.after((context) => {
  context.instrumentation.disable()
})

/** Samples of db.client.operation.duration per instrumentation scope, after `QUERIES` queries in an operation. */
async function operationSamples(context: Context, options: Omit<InstrumentPoolsOptions, 'meterProvider'>, views: ViewOptions[] = []): Promise<Record<string, number>> {
  const harness: MetricsHarness = createMetricsHarness(undefined, views)
  context.instrumentation.setMeterProvider(harness.meterProvider)
  const appName = uniqueAppName('otel-with-pg-instrumentation')
  const registry: PoolRegistry = createPoolRegistry()
  const pool = registry.register(createPostgresPool({ name: 'orders', ...pgConfig(), applicationName: appName, minSize: 1, maxSize: 2 }))
  const lifeguard = instrumentPools(registry, { meterProvider: harness.meterProvider, ...options })
  await registry.warmup()
  const container: ServiceContainer = createServiceContainer()
  registerPostgres(container, pool)
  const samples = async (): Promise<Record<string, number>> => {
    const counts: Record<string, number> = {}
    for (const scope of await harness.collectScopes()) {
      for (const data of scope.metrics.filter((m) => m.descriptor.name === metricNames.operationDuration)) {
        counts[scope.scope.name] = (data.dataPoints as { value: { count: number } }[]).reduce((sum, point) => sum + point.value.count, 0)
      }
    }
    return counts
  }
  try {
    const before = await samples()
    await runOperation('orders-api', 'GET /orders/:id', async (operation) => {
      for (let i = 0; i < QUERIES; i++) await operation.postgres.query('SELECT $1::int', [i])
    }, { container })
    const after = await samples()
    return Object.fromEntries(Object.entries(after).map(([scope, count]) => [scope, count - (before[scope] ?? 0)]).filter(([, count]) => count !== 0))
  } finally {
    lifeguard.stop()
    await registry.close()
    await harness.shutdown()
    await waitForServerConnections(appName, 0)
  }
}

both('by default each query is recorded twice, once per instrumentation scope', async (context) => {
  assert.equal(await operationSamples(context, {}), { [meterName]: QUERIES, [pgScope]: QUERIES })
})

both('operationDuration: false keeps instrumentation-pg\'s samples alone (and Lifeguard\'s pool metrics)', async (context) => {
  assert.equal(await operationSamples(context, { operationDuration: false }), { [pgScope]: QUERIES })
})

both('a View dropping instrumentation-pg\'s histogram keeps Lifeguard\'s alone, with its pool and route', async (context) => {
  const drop: ViewOptions = { meterName: pgScope, instrumentName: metricNames.operationDuration, aggregation: { type: AggregationType.DROP } }
  assert.equal(await operationSamples(context, {}, [drop]), { [meterName]: QUERIES })
})

both.run()
