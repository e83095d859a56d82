// One client, several servers: a sharded cluster's routers, where the driver keeps a pool per server and
// numbers each one's connections from 1. Runs against the wire server only (two of them act as routers).
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoPool, type MongoPool } from '../src/index.js'
import { ManualClock, startWireServer, type WireServer } from '@lifeguard/test-kit'
import { recordEvents, sleep } from './_helpers/pools.js'

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
  // Each router started with no connection: closing the pool leaves none behind, monitors included.
  for (const router of context.routers) await router.waitFor(() => router.connectionCount === 0, 3000, 'no connection left on the router')
  context.pool = undefined
  await Promise.all(context.routers.map((router) => router.close()))
})

function poolSockets(routers: readonly WireServer[]): number {
  return routers.reduce((sum, router) => sum + router.connections.filter((c) => c.kind === 'pool').length, 0)
}

function uriOf(routers: readonly WireServer[]): string {
  return `mongodb://${routers.map((r) => `127.0.0.1:${r.port}`).join(',')}/lifeguard_routers`
}

// Ids of the pool connections a router has open (not the monitor's, once it sent a heartbeat).
function poolConnectionIds(router: WireServer): number[] {
  return router.connections.filter((c) => c.kind !== 'monitor').map((c) => c.id)
}

Routers('counts every connection of every router: total, active and idle match the servers', async (context) => {
  const { routers } = context
  const uri = uriOf(routers)
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

// A pool on both routers whose minSize keeper has its retries on a manual clock; idle connections are pruned
// by the driver's own timer after 1.5s, longer than a router takes to be found down (a heartbeat, 500ms).
function openRefillPool(context: Context): { pool: MongoPool; clock: ManualClock; cleared: () => boolean } {
  const clock = new ManualClock()
  const recorder = recordEvents()
  const pool = createMongoPool({
    name: 'routers-refill',
    uri: uriOf(context.routers),
    minSize: 2,
    maxSize: 4,
    maxIdleTimeMillis: 1500,
    clock,
    events: recorder.listeners,
    clientOptions: { heartbeatFrequencyMS: 500, localThresholdMS: 60_000, retryReads: false, retryWrites: false },
  })
  context.pool = pool
  const cleared = () => recorder.of('error').some((e) => (e.error as { code?: string }).code === 'ERR_POOL_CLEARED')
  return { pool, clock, cleared }
}

// Warms up, then uses the pool until one batch of finds ran on both routers: each holds a connection used
// just now, which no idle pruning closes before the test is done with it.
async function useBothRouters(pool: MongoPool, routers: readonly WireServer[]): Promise<void> {
  await pool.warmup()
  for (const router of routers) await router.waitFor(() => router.monitorConnectionCount === 1, 3000, 'the heartbeat monitor told apart')
  const bothServed = (): boolean => routers.every((router) => router.commands.some((c) => c.name === 'find'))
  for (let batch = 0; batch < 100 && !bothServed(); batch++) {
    for (const router of routers) router.clearLog()
    await Promise.all(Array.from({ length: 4 }, () => pool.collection('orders').findOne({})))
  }
  assert.ok(bothServed(), 'one batch of finds ran on both routers')
}

// The driver works in real time, the keeper's retry backoff on the pool's manual clock: the clock moves on
// 50ms a poll until the condition holds.
async function waitMovingClock(clock: ManualClock, condition: () => boolean, description: string, timeoutMillis: number): Promise<void> {
  const deadline = Date.now() + timeoutMillis
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMillis}ms waiting for ${description}`)
    await clock.advance(50)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

// What the keeper must do once the other router's pool is cleared for good: keep minSize open on this one,
// also after the driver pruned those connections as idle. Before the fix the cleared pool paused it forever.
// A refill asked for before the driver knew the other router was down may have failed there, and waits for
// its retry.
async function assertMinSizeKeptOn(serving: WireServer, clock: ManualClock): Promise<void> {
  await waitMovingClock(clock, () => poolConnectionIds(serving).length === 2, 'minSize open on the router that serves', 3000)
  const pruned = new Set(poolConnectionIds(serving))
  const reopened = (): boolean => {
    const ids = poolConnectionIds(serving)
    return ids.length === 2 && ids.every((id) => !pruned.has(id))
  }
  await waitMovingClock(clock, reopened, 'minSize reopened on the router that serves after its idle connections were pruned', 4000)
}

Routers('a router that goes away stops no refill: minSize is kept, after idle pruning too, on the router that serves', async (context) => {
  const [gone, serving] = context.routers as [WireServer, WireServer]
  const { pool, clock, cleared } = openRefillPool(context)
  await useBothRouters(pool, context.routers)
  await gone.goAway()
  await serving.waitFor(cleared, 3000, "the gone router's pool cleared by its monitor")
  await assertMinSizeKeptOn(serving, clock)
})

Routers("a router whose pool stays cleared stops no refill, and the connections left in that pool count for nothing", async (context) => {
  const [failing, serving] = context.routers as [WireServer, WireServer]
  const { pool, clock, cleared } = openRefillPool(context)
  await useBothRouters(pool, context.routers)
  // Up, but failing every heartbeat (shutting down): its pool is cleared and never ready again, and its idle
  // connections stay open in it until the pool closes. They will never serve, so the refill replaces them.
  failing.fault('hello', { kind: 'error', times: Number.MAX_SAFE_INTEGER })
  await serving.waitFor(cleared, 3000, "the failing router's pool cleared by its monitor")
  // Pool connections only: the monitor's new connections, their handshake refused, come and go meanwhile.
  assert.ok(failing.connections.some((c) => c.kind === 'pool'), 'the cleared pool still holds connections to the failing router')
  await assertMinSizeKeptOn(serving, clock)
})

Routers('a router dropped from the topology while its connection is in use leaves nothing counted of it', async (context) => {
  const [dropped, kept] = context.routers as [WireServer, WireServer]
  const { pool, clock } = openRefillPool(context)
  await useBothRouters(pool, context.routers)
  // A find in flight on the router about to be dropped: its connection is checked out when the pool closes.
  // Finds go to either router: one at a time until one runs there (those on the other end at once).
  dropped.fault('find', { kind: 'delay', delayMillis: 1500, times: Number.MAX_SAFE_INTEGER })
  dropped.clearLog()
  const finds: Promise<unknown>[] = []
  for (let attempt = 0; attempt < 50 && !dropped.commands.some((c) => c.name === 'find'); attempt++) {
    finds.push(pool.collection('orders').findOne({}))
    await sleep(20)
  }
  assert.ok(dropped.commands.some((c) => c.name === 'find'), 'a find runs on the router to drop')
  // No longer a router: the client drops the server from its sharded topology and closes its pool, and the
  // check-in and close of the connection in use are never relayed.
  dropped.setRouter(false)
  await Promise.allSettled(finds)
  await dropped.waitFor(() => dropped.connectionCount === 0, 3000, "every connection to the dropped router closed, its monitor's too")
  // Before the fix the connection in use stayed counted, busy, for good.
  await waitMovingClock(clock, () => pool.activeCount === 0 && pool.totalCount === poolConnectionIds(kept).length && pool.totalCount >= 2, 'only the kept router counted, minSize kept there', 4000)
  assert.is(pool.getPoolMetrics().waitingRequests, 0)
})

Routers.run()
