// One client, several servers: a sharded cluster's routers, where the driver keeps a pool per server and
// numbers each one's connections from 1. Runs against the wire server only (two of them act as routers).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoPool, type MongoPool } from '../src/index.js'
import { startWireServer, type WireServer } from '@lifeguard/test-kit'

interface Context {
  routers: WireServer[]
  pool: MongoPool | undefined
}

const Routers = suite<Context>('a pool over two routers', { routers: [], pool: undefined })

Routers.before.each(async (context) => {
  context.routers = [await startWireServer({ router: true }), await startWireServer({ router: true })]
})

Routers.after.each(async (context) => {
  await context.pool?.close()
  await Promise.all(context.routers.map((router) => router.close()))
})

function poolSockets(routers: readonly WireServer[]): number {
  return routers.reduce((sum, router) => sum + router.connections.filter((c) => c.kind === 'pool').length, 0)
}

Routers('counts every connection of every router: total, active and idle match the servers', async (context) => {
  const { routers } = context
  const uri = `mongodb://${routers.map((r) => `127.0.0.1:${r.port}`).join(',')}/lifeguard_routers`
  // A wide latency window: both routers are chosen, so both pools open connections numbered from 1.
  const pool = createMongoPool({ name: 'routers', uri, maxSize: 8, clientOptions: { heartbeatFrequencyMS: 500, localThresholdMS: 60_000 } })
  context.pool = pool
  await pool.client.connect()
  // The driver spreads operations over the routers it has found: batches until both have served some.
  const usedBoth = (): boolean => routers.every((r) => r.commands.some((c) => c.name === 'find'))
  for (let batch = 0; batch < 100 && !usedBoth(); batch++) await Promise.all(Array.from({ length: 8 }, () => pool.collection('orders').findOne({})))
  assert.ok(usedBoth(), 'both routers served finds')

  // Busy: the eight finds run on connections of both routers, numbered alike: all counted, and every one open.
  for (const router of routers) router.fault('find', { kind: 'delay', delayMillis: 200, times: 8 })
  const finds = Array.from({ length: 8 }, () => pool.collection('orders').findOne({}))
  await routers[0]!.waitFor(() => pool.activeCount === 8 && pool.totalCount === poolSockets(routers), 3000, 'every busy connection counted')
  await Promise.all(finds)

  await routers[0]!.waitFor(() => pool.idleCount === poolSockets(routers), 3000, 'every idle connection counted')
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.totalConnections, poolSockets(routers))
  assert.is(metrics.activeConnections, 0)
  assert.is(metrics.idleConnections, metrics.totalConnections)
  assert.ok(metrics.totalConnections >= 2, `${metrics.totalConnections} connections`)
})

Routers.run()
