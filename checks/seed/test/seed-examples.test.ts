// The seed document's usage examples ("Basic Setup" and "Monitoring Pool Health"), run as written. The
// only changes: `'SELECT...'` becomes a statement PostgreSQL accepts, and `data`, `logger` and the
// application's own `setupServiceContainer()` are defined here. Its dynamic sizing example runs in
// @lifeguard/autoscale's `seed-example.test.ts` (one line of setup: `install()`).
import { OperationContext, createPoolRegistry, createServiceContainer, type ConnectionEvents, type PoolErrorEvent } from '@lifeguard/core'
import { createMongoPool, registerMongo } from '@lifeguard/mongodb'
import { createPostgresPool, registerPostgres, type PostgresPool } from '@lifeguard/postgres'
import { pgConfig, startWireServer, terminateBackends, uniqueAppName, waitForConnectionCount, type WireServer } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'

const test = suite<{ wire: WireServer }>('the seed document, as written')

test.before(async (context) => {
  context.wire = await startWireServer()
})

test.after(async ({ wire }) => {
  await wire?.close()
})

test('Basic Setup: a context per operation, context.mongodb.insertOne and context.postgres.query, then dispose', async ({ wire }) => {
  const appName = uniqueAppName('seed-basic')
  const registry = createPoolRegistry()
  // The application's own function in the seed: its pools, registered once, and a container.
  async function setupServiceContainer() {
    const postgres = registry.register(createPostgresPool({ ...pgConfig(), name: 'main', applicationName: appName }))
    const mongo = registry.register(createMongoPool({ name: 'events', uri: wire.uri, dbName: 'seed' }))
    await registry.warmup()
    const container = createServiceContainer()
    registerPostgres(container, postgres)
    registerMongo(container, mongo, { collection: 'events' })
    return container
  }
  const data = { kind: 'order-placed', sku: 'tea' }

  // ---- the seed's example ----
  // Setup service container with connection pools
  const container = await setupServiceContainer();

  // Create operation context with container
  const context = OperationContext.create('handler', 'operation', { container });

  // Use databases normally
  await context.mongodb.insertOne(data);
  await context.postgres.query('SELECT 1');

  // Clean up when done
  await context.dispose();
  // ----------------------------

  assert.ok(context.disposed)
  assert.equal(wire.documents('seed.events').map((document) => document['sku']), ['tea'])
  await registry.close()
  await waitForConnectionCount(appName, 0)
})

test('Monitoring Pool Health: getPoolMetrics() and ConnectionEvents listeners', async () => {
  const appName = uniqueAppName('seed-monitoring')
  const logged: { level: string; message: string; fields?: unknown }[] = []
  const logger = {
    info: (message: string, fields?: unknown) => void logged.push({ level: 'info', message, fields }),
    error: (message: string, fields?: unknown) => void logged.push({ level: 'error', message, fields }),
  }
  const printed: unknown[] = []
  const console = { log: (value: unknown) => void printed.push(value) }

  // ---- the seed's example ----
  // Listen to events
  const events: ConnectionEvents = {
    onError: (error) => logger.error('Pool error', { error }),
    onConnect: () => logger.info('Connected')
  };
  // ----------------------------
  const client: PostgresPool = createPostgresPool({ ...pgConfig(), name: 'orders', applicationName: appName, events })
  await client.query('SELECT 1')

  // ---- the seed's example ----
  // Get current metrics
  const metrics = client.getPoolMetrics();
  console.log({
    active: metrics.activeConnections,
    total: metrics.totalConnections,
    waiting: metrics.waitingRequests
  });
  // ----------------------------

  assert.equal(printed, [{ active: 0, total: 1, waiting: 0 }])
  assert.equal(logged.map((entry) => `${entry.level} ${entry.message}`), ['info Connected'])
  // A dropped connection reaches onError, as an event that names the pool and carries the error.
  await terminateBackends(appName)
  // The server's notice travels back over the socket: poll for it (I/O, not a timer of the pool's).
  for (let i = 0; i < 200 && !logged.some((entry) => entry.level === 'error'); i++) await new Promise((resolve) => setTimeout(resolve, 10))
  await client.query('SELECT 1')
  const failure = logged.find((entry) => entry.level === 'error')?.fields as { error: PoolErrorEvent } | undefined
  assert.is(failure?.error.pool, 'orders')
  assert.match(failure?.error.error.message ?? '', 'terminating connection')
  await client.close()
  await waitForConnectionCount(appName, 0)
})

test.run()
