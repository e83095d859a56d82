// The MongoDB half: the same instruments, fed by the official driver's pool (CMAP events) through
// @lifeguard/mongodb, against the adapter's wire-protocol test server.
import { createPoolRegistry, type PoolRegistry } from '@lifeguard/core'
import { createMongoPool, type MongoLease, type MongoPool } from '@lifeguard/mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { startWireServer, type WireServer } from '@lifeguard/test-kit'
import { attributeNames, instrumentPools, metricNames, type PoolInstrumentation } from '../src/index.js'
import { createMetricsHarness, findPoint, metric, valueOf, type MetricsHarness } from './_helpers/metrics.js'

interface Context {
  server: WireServer
  harness: MetricsHarness
  registry: PoolRegistry
  events: MongoPool
  audit: MongoPool
  instrumentation: PoolInstrumentation
}

const mongo = suite<Context>('MongoDB pool metrics', {} as Context)

const clientOptions = { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 2000 }
const pool = (name: string) => ({ [attributeNames.poolName]: name })
const state = (name: string, value: 'used' | 'idle') => ({ ...pool(name), [attributeNames.connectionState]: value })

mongo.before(async (context) => {
  context.server = await startWireServer()
  context.harness = createMetricsHarness()
  context.registry = createPoolRegistry()
  context.events = context.registry.register(createMongoPool({ name: 'events', uri: context.server.uri, dbName: 'shop', minSize: 1, maxSize: 4, clientOptions }))
  context.audit = context.registry.register(createMongoPool({ name: 'audit', uri: context.server.uri, dbName: 'shop', minSize: 1, maxSize: 2, clientOptions }))
  context.instrumentation = instrumentPools(context.registry, { meterProvider: context.harness.meterProvider })
  await context.registry.warmup()
})

mongo.after(async (context) => {
  context.instrumentation.stop()
  await context.registry.close()
  await context.harness.shutdown()
  await context.server.waitFor(() => context.server.poolConnectionCount === 0, 5000, 'every pool connection closed')
  await context.server.close()
})

mongo('reports used and idle connections, limits and wait/use samples per MongoDB pool', async ({ harness, events, audit, server }) => {
  const leases: MongoLease[] = [await events.acquire(), await events.acquire()]
  await leases[0]?.collection('orders').insertOne({ sku: 'a' })
  // A lease is an admission slot; the driver checks a connection out per command. Two slow commands in
  // flight hold two connections.
  server.fault('find', { kind: 'delay', delayMillis: 400, times: 2 })
  const inFlight = leases.map((lease) => lease.collection('orders').find({}).toArray())
  await server.waitFor(() => events.getPoolMetrics().activeConnections === 2, 2000, 'two commands in flight')
  const held = await harness.collect()
  assert.is(valueOf(held, metricNames.connectionCount, state('events', 'used')), 2)
  await Promise.all(inFlight)
  assert.is(valueOf(held, metricNames.limit, pool('events')), 4)
  assert.is(valueOf(held, metricNames.limit, pool('audit')), 2)
  assert.is(valueOf(held, metricNames.connectionCount, state('audit', 'used')), 0)
  for (const lease of leases) await lease.release()

  await audit.collection('log').insertOne({ at: 1 })
  const after = await harness.collect()
  assert.is(valueOf(after, metricNames.connectionCount, state('events', 'used')), 0)
  const eventsIdle = valueOf(after, metricNames.connectionCount, state('events', 'idle'))
  const auditIdle = valueOf(after, metricNames.connectionCount, state('audit', 'idle'))
  assert.ok(eventsIdle >= 1, `events idle: ${eventsIdle}`)
  assert.ok(auditIdle >= 1, `audit idle: ${auditIdle}`)
  // The pools' connections are the server's pool connections: nothing counted twice, nothing mixed.
  assert.is(eventsIdle + auditIdle, events.totalCount + audit.totalCount)
  assert.ok(server.poolConnectionCount >= events.totalCount + audit.totalCount)

  const waits = findPoint(metric(after, metricNames.waitTime), pool('events'))?.value as { count: number } | undefined
  const auditWaits = findPoint(metric(after, metricNames.waitTime), pool('audit'))?.value as { count: number } | undefined
  assert.ok((waits?.count ?? 0) >= 2, 'a wait sample per events checkout')
  assert.ok((auditWaits?.count ?? 0) >= 1, 'a wait sample for the audit checkout')
  const created = findPoint(metric(after, metricNames.createTime), pool('events'))?.value as { count: number } | undefined
  assert.ok((created?.count ?? 0) >= 1, 'create_time has a sample per opened connection')
})

mongo('records one operation duration per command, named by the command, with db.system.name mongodb', async ({ harness, events, server }) => {
  const countOf = (metrics: Awaited<ReturnType<MetricsHarness['collect']>>, command: string, extra: Record<string, string> = {}) =>
    (findPoint(metric(metrics, metricNames.operationDuration), { ...pool('events'), [attributeNames.dbOperationName]: command, ...extra })?.value as { count: number } | undefined)?.count ?? 0
  const before = await harness.collect()
  await events.collection('orders').find({}).toArray()
  await events.collection('orders').insertOne({ sku: 'b' })
  server.fault('find', { kind: 'error', error: { code: 2, codeName: 'BadValue', errmsg: 'bad value' }, times: 1 })
  await events.collection('orders').findOne({}).catch(() => undefined)
  const metrics = await harness.collect()
  assert.is(countOf(metrics, 'find') - countOf(before, 'find'), 1)
  assert.is(countOf(metrics, 'insert') - countOf(before, 'insert'), 1)
  assert.is(countOf(metrics, 'find', { [attributeNames.errorType]: '2' }), 1, 'error.type is the server\'s code')
  const point = findPoint(metric(metrics, metricNames.operationDuration), { ...pool('events'), [attributeNames.dbOperationName]: 'insert' })
  assert.is(point?.attributes[attributeNames.systemName], 'mongodb')
  assert.not.ok(metric(metrics, metricNames.operationDuration).dataPoints.some((p) => ['hello', 'ismaster', 'isMaster'].includes(p.attributes[attributeNames.dbOperationName] as string)), 'heartbeats and handshakes never count')
})

mongo('follows resize of a MongoDB pool in db.client.connection.limit', async ({ harness, audit }) => {
  audit.resize({ maxSize: 3 })
  assert.is(valueOf(await harness.collect(), metricNames.limit, pool('audit')), 3)
  audit.resize({ maxSize: 2 })
  assert.is(valueOf(await harness.collect(), metricNames.limit, pool('audit')), 2)
})

mongo.run()
