import { createPoolRegistry, createServiceContainer, runOperation } from '@lifeguard/core'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { attributeNames, instrumentPools, metricNames } from '../src/index.js'
import { allAttributeValues, createMetricsHarness, valueOf } from './_helpers/metrics.js'
import { pgConfig, terminateBackends, uniqueAppName, waitForServerConnections } from './_helpers/pg.js'

const attributes = suite('PostgreSQL pool attributes and errors')

attributes('no credential, connection string, query text (beyond the keyword naming its operation) or request id becomes an attribute; a killed idle connection is an error', async () => {
  const harness = createMetricsHarness()
  const appName = uniqueAppName('otel-attrs')
  const { host, port, user, database } = pgConfig()
  const password = 'pw-7d1f0e93c2'
  // The server trusts loopback, so the password is never checked: it only has to stay out of the metrics.
  const connectionString = `postgres://${user}:${password}@${host}:${port}/${database}`
  const registry = createPoolRegistry()
  const instrumentation = instrumentPools(registry, { meterProvider: harness.meterProvider, routeAttributes: true })
  // Registered after the instrumentation started: picked up through the registry.
  const pool = registry.register(createPostgresPool({ name: 'orders', connectionString, applicationName: appName, minSize: 2, maxSize: 4 }))
  assert.equal(instrumentation.pools, ['orders'])
  await registry.warmup()
  const container = createServiceContainer()
  registerPostgres(container, pool)
  await runOperation('orders-api', 'POST /orders', (context) => context.postgres.query('SELECT $1::text AS note', ['card 4111-1111']), { container, requestId: 'req-3c59dc04' })

  const errored = new Promise<void>((resolve) => pool.on('error', (event) => {
    if (event.source === 'idle-connection') resolve()
  }))
  assert.ok((await terminateBackends(appName, 'idle')) >= 1, 'an idle backend was terminated')
  await errored

  const metrics = await harness.collect()
  assert.ok(valueOf(metrics, metricNames.errors, { [attributeNames.poolName]: 'orders', [attributeNames.errorSource]: 'idle-connection' }) >= 1)
  const values = allAttributeValues(metrics)
  assert.ok(values.includes('POST /orders'), 'the scan sees the operation attributes')
  assert.ok(values.includes('SELECT'), 'the statement\'s kind, the keyword naming it')
  for (const secret of [password, connectionString, `${host}:${port}`, 'postgres://', 'SELECT $1', 'note', '4111', 'req-3c59dc04', 'terminat']) {
    assert.not.ok(values.some((value) => value.includes(secret)), `'${secret}' appears in an attribute value`)
  }

  await registry.close()
  const closed = await harness.collect()
  assert.is(valueOf(closed, metricNames.limit, { [attributeNames.poolName]: 'orders' }), 0, 'a closed pool allows no connections')
  assert.is(valueOf(closed, metricNames.connectionCount, { [attributeNames.poolName]: 'orders', [attributeNames.connectionState]: 'idle' }), 0)
  assert.equal(instrumentation.pools, [])
  instrumentation.stop()
  await harness.shutdown()
  await waitForServerConnections(appName, 0)
})

attributes.run()
