// A service that starts before its database: the driver closes a client whose first connection fails, and
// the pool must come up anyway once the server does. Uses the wire server started late on a known port, so
// it is skipped against a real server.
import { createPoolRegistry, type PoolErrorEvent } from '@lifeguard/core'
import { MongoServerSelectionError } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { MongoPool } from '../src/index.js'
import { freePort, rejects, startWireServer, type WireServer } from '@lifeguard/test-kit'
import { appNameOf, faultTest, openPool, recordEvents, sleep } from './_helpers/pools.js'
import type { TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_recovery'

interface Context {
  port: number
  wire: WireServer | undefined
  pools: MongoPool[]
}

const Recovery = suite<Context>('pool recovery after a failed first connection', { port: 0, wire: undefined, pools: [] })

Recovery.before.each(async (context) => {
  context.port = await freePort()
})

Recovery.after.each(async (context) => {
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
  await context.wire?.close()
  context.wire = undefined
})

// A pool on the port where the server is not up yet, failing fast (300ms server selection).
function poolOnLatePort(context: Context, options: Parameters<typeof openPool>[1] = {}): MongoPool {
  const target = { uri: `mongodb://127.0.0.1:${context.port}/?directConnection=true` } as TestTarget
  const pool = openPool(target, { dbName: DB, faults: true, ...options, clientOptions: { serverSelectionTimeoutMS: 300, ...options.clientOptions } })
  context.pools.push(pool)
  return pool
}

async function startServer(context: Context): Promise<WireServer> {
  context.wire = await startWireServer({ port: context.port })
  return context.wire
}

// Pool connections (heartbeat monitors excluded) the server has open for one pool.
function serverCount(wire: WireServer, pool: MongoPool): number {
  return wire.connections.filter((c) => c.handshake?.['client']?.application?.name === appNameOf(pool) && c.kind !== 'monitor').length
}

const isClientClosed = (e: PoolErrorEvent) => (e.error as { code?: string }).code === 'ERR_CLIENT_CLOSED'

faultTest(Recovery)('operations fail while the server is down and succeed once it is up, on the same client and collections', async (context) => {
  const recorder = recordEvents()
  const pool = poolOnLatePort(context, { events: recorder.listeners })
  const client = pool.client
  const orders = pool.collection('orders')
  await rejects(orders.findOne({}), MongoServerSelectionError)

  const [closed] = recorder.of('error').filter(isClientClosed)
  assert.ok(closed, `a ClientClosedError was reported: ${JSON.stringify(recorder.of('error').map((e) => e.error.message))}`)
  assert.is(closed.source, 'pool')
  assert.is(closed.error.name, 'ClientClosedError')
  assert.match(closed.error.message, `Could not keep the client of pool '${pool.name}' open.`)
  assert.match(closed.error.message, 'the pool reconnects it on the next operation')
  // Before the fix: every later call failed at once with MongoTopologyClosedError, also once the server was up.
  await rejects(orders.findOne({}), MongoServerSelectionError)

  const wire = await startServer(context)
  assert.is(await orders.findOne({}), null, 'a collection taken before the failure works')
  await pool.collection('orders').insertOne({ sku: 'tea' })
  assert.is(pool.client, client, 'the same client, reconnected')

  // One connection on the server, one in the metrics: nothing from the closed topology is counted.
  await wire.waitFor(() => serverCount(wire, pool) === 1, 3000, 'one pool connection')
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.totalConnections, 1)
  assert.is(metrics.activeConnections, 0)
  assert.is(metrics.waitingRequests, 0)
  assert.ok(recorder.of('connect').length >= 1, 'the new connection is announced')
})

faultTest(Recovery)('a failed warm-up is retried once the server is up: the registry becomes ready with minSize connections', async (context) => {
  const recorder = recordEvents()
  const pool = poolOnLatePort(context, { minSize: 2, events: recorder.listeners })
  const registry = createPoolRegistry()
  registry.register(pool)
  const failed = await rejects(registry.warmup({ timeoutMillis: 2000 }), AggregateError)
  assert.match(failed.message, 'Could not warm up 1 of 1 pool(s).')
  assert.ok(recorder.of('error').some(isClientClosed))
  assert.not.ok(registry.isReady)

  const wire = await startServer(context)
  const report = await registry.warmup({ timeoutMillis: 3000 })
  assert.equal(report.pools.map((p) => [p.requested, p.opened]), [[2, 2]])
  await registry.ready
  assert.ok(registry.isReady)
  await wire.waitFor(() => serverCount(wire, pool) === 2, 3000, 'two pool connections')
  assert.is(pool.getPoolMetrics().totalConnections, 2)
  assert.is(pool.getPoolMetrics().idleConnections, 2)
})

faultTest(Recovery)("a lease taken while the server was down reconnects the client for its own calls once the server is up", async (context) => {
  const pool = poolOnLatePort(context, {})
  const lease = await pool.acquire()
  await rejects(lease.collection('orders').findOne({}), MongoServerSelectionError)
  await startServer(context)
  // Before the fix: MongoTopologyClosedError for every lease call, until a pool call reconnected the client.
  assert.is(await lease.collection('orders').findOne({}), null)
  lease.release()
})

faultTest(Recovery)('reading pool.client reconnects it, so direct driver calls recover too', async (context) => {
  const pool = poolOnLatePort(context)
  await rejects(pool.client.db(DB).command({ ping: 1 }), MongoServerSelectionError)
  await startServer(context)
  assert.equal(await pool.client.db(DB).command({ ping: 1 }), { ok: 1 })
})

faultTest(Recovery)('closing the pool while it reconnects leaves no client open and no connection behind', async (context) => {
  const pool = poolOnLatePort(context)
  await rejects(pool.collection('orders').findOne({}), MongoServerSelectionError)
  const wire = await startServer(context)
  const reconnecting = pool.collection('orders').findOne({})
  await pool.close()
  await reconnecting.catch(() => undefined)
  await wire.waitFor(() => wire.connections.every((c) => c.handshake?.['client']?.application?.name !== appNameOf(pool)), 3000, 'no connection of the closed pool')
  assert.is(pool.state, 'closed')
})

faultTest(Recovery)('a closed pool is never reconnected: reading pool.client after close() opens nothing', async (context) => {
  const pool = poolOnLatePort(context)
  await rejects(pool.collection('orders').findOne({}), MongoServerSelectionError)
  await pool.close()
  // The database comes up after the service shut the pool down; a health check or a logger reads pool.client.
  const wire = await startServer(context)
  void pool.client
  // The reconnect it used to start opened its monitor connection within milliseconds; wait well past that.
  await sleep(500)
  assert.is(wire.connections.filter((c) => c.handshake?.['client']?.application?.name === appNameOf(pool)).length, 0)
})

Recovery.run()
