import { createServer, type Server, type Socket } from 'node:net'
import { inspect } from 'node:util'
import { createPoolRegistry, PoolClosedError, PoolWarmupError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoPool, type MongoPool } from '../src/index.js'
import { ManualClock, rejects } from '@lifeguard/test-kit'
import { appNameOf, closeAll, faultTest, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_warmup'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Warmup = suite<Context>('pool warm-up', { target: undefined as never, pools: [] })

Warmup.before(async (context) => {
  context.target = await startTarget([DB])
})

Warmup.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Warmup.after(async (context) => {
  await context.target.close()
})

Warmup('opens minSize connections, waits until the driver reports them ready, and reports count and duration', async (context) => {
  const { target } = context
  const recorder = recordEvents()
  const pool = openPool(target, { dbName: DB, minSize: 4, maxSize: 8, events: recorder.listeners })
  context.pools.push(pool)
  assert.is(pool.state, 'created')

  const report = await pool.warmup()
  assert.equal({ ...report, durationMillis: 0 }, { pool: pool.name, requested: 4, opened: 4, failed: 0, durationMillis: 0 })
  assert.ok(report.durationMillis > 0 && report.durationMillis < 5000, `durationMillis ${report.durationMillis}`)
  assert.is(pool.state, 'ready')
  assert.is(recorder.of('connect').length, 4)
  assert.is(pool.getPoolMetrics().idleConnections, 4)

  await target.waitForMonitor(appNameOf(pool))
  assert.is(await target.poolConnections(appNameOf(pool)), 4)
})

Warmup('opens one connection when minSize is 0, or the number asked for', async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  assert.is((await pool.warmup()).opened, 1)
  const report = await pool.warmup({ connections: 3 })
  assert.equal([report.requested, report.opened, report.failed], [3, 3, 0])
  assert.is(pool.getPoolMetrics().totalConnections, 3)
})

Warmup('a warm-up that opens fewer than minSize leaves the rest to the keeper, which opens them once it is over', async (context) => {
  const { target } = context
  // maxIdleTimeMillis 0: no connection is ever pruned, so only the keeper's run after the warm-up can open them.
  const pool = openPool(target, { dbName: DB, minSize: 3, maxSize: 6, maxIdleTimeMillis: 0 })
  context.pools.push(pool)
  const app = appNameOf(pool)
  const report = await pool.warmup({ connections: 1 })
  assert.is(report.opened, 1)
  await target.waitForPoolConnections(app, 3)
  const deadline = Date.now() + 2000
  while (pool.getPoolMetrics().idleConnections !== 3 && Date.now() < deadline) await sleep(10)
  assert.equal([pool.getPoolMetrics().totalConnections, pool.getPoolMetrics().idleConnections], [3, 3])
})

Warmup('an unreachable server fails with PoolWarmupError: redacted target, the driver error as cause', async (context) => {
  const port = await closedPort()
  const recorder = recordEvents()
  const pool = createMongoPool({
    name: 'unreachable',
    uri: `mongodb://app:s3cret-pw@127.0.0.1:${port}/orders?directConnection=true&authSource=admin`,
    events: recorder.listeners,
    clientOptions: { serverSelectionTimeoutMS: 300, heartbeatFrequencyMS: 500 },
  })
  context.pools.push(pool)
  assert.is(pool.target, `mongodb://app@127.0.0.1:${port}/orders`)

  const error = await rejects(pool.warmup({ timeoutMillis: 5000 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  assert.match(error.message, `Could not warm up pool 'unreachable' (mongodb://app@127.0.0.1:${port}/orders)`)
  assert.match(error.message, 'No connection could be opened: ')
  assert.match(error.message, 'ECONNREFUSED', 'the reason in the message, as the PostgreSQL pool says it')
  assert.instance(error.cause, Error)
  assert.match((error.cause as Error).message, 'ECONNREFUSED')
  assert.is(pool.state, 'created')
  const everything = [inspect(error, { depth: 5 }), JSON.stringify(recorder.events.map((e) => ({ ...e, text: String((e.payload as { error?: unknown }).error) })))].join('\n')
  assert.not.match(everything, 's3cret')
  assert.ok(recorder.of('error').length >= 1)
})

Warmup('with minSize 3 the cause is still the connect error, not the closed topology the other pings then met', async (context) => {
  const port = await closedPort()
  const pool = createMongoPool({ name: 'unreachable-3', uri: `mongodb://127.0.0.1:${port}/orders?directConnection=true`, minSize: 3, clientOptions: { serverSelectionTimeoutMS: 300, heartbeatFrequencyMS: 500 } })
  context.pools.push(pool)
  const error = await rejects(pool.warmup({ timeoutMillis: 5000 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  assert.match((error.cause as Error).message, 'ECONNREFUSED')
  assert.is.not((error.cause as Error).name, 'MongoTopologyClosedError')
})

Warmup('a server that never answers fails within timeoutMillis', async (context) => {
  const silent = await silentServer()
  try {
    const pool = createMongoPool({ name: 'silent', uri: `mongodb://127.0.0.1:${silent.port}/?directConnection=true`, clientOptions: { connectTimeoutMS: 10_000 } })
    context.pools.push(pool)
    const started = Date.now()
    const error = await rejects(pool.warmup({ timeoutMillis: 300 }), PoolWarmupError, 'ERR_POOL_WARMUP')
    assert.match(error.message, 'No connection could be opened within 300ms')
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started}ms`)
  } finally {
    await silent.close()
  }
})

faultTest(Warmup)("a refill still running counts against warmup()'s timeoutMillis: its pings may wait out server selection", async (context) => {
  const wire = context.target.wire!
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, minSize: 1, maxSize: 4, clock })
  context.pools.push(pool)
  await pool.warmup()
  // The server stops answering pings: the refill that a higher minSize starts at once waits for its answers.
  wire.fault('ping', { kind: 'delay', delayMillis: 60_000, times: 10 })
  pool.resize({ minSize: 3 })
  let guard: NodeJS.Timeout | undefined
  const hung = new Promise<string>((resolve) => (guard = setTimeout(() => resolve('still warming'), 10_000)))
  try {
    let settled = false
    const warming = pool.warmup({ timeoutMillis: 300 }).then(
      (report) => `${report.opened} of ${report.requested}`,
      (error: Error) => error.name,
    ).finally(() => (settled = true))
    await clock.advance(299)
    assert.not.ok(settled, 'waits for the refill within its time')
    await clock.advance(1)
    const outcome = await Promise.race([warming, hung])
    assert.is.not(outcome, 'still warming', 'settled once its 300 ms had passed on the clock')
  } finally {
    clearTimeout(guard)
    wire.clearFaults()
  }
})

faultTest(Warmup)('connections counted open are pinged too: a server that stopped answering fails the warm-up, not reported warm', async (context) => {
  const wire = context.target.wire!
  const clock = new ManualClock()
  const pool = openPool(context.target, { dbName: DB, minSize: 2, maxSize: 4, clock })
  context.pools.push(pool)
  assert.is((await pool.warmup()).opened, 2)
  // Its two idle connections still count as open, but the server answers nothing on them any more (as behind a
  // partition that sent no FIN).
  wire.fault('ping', { kind: 'delay', delayMillis: 60_000, times: 10 })
  let guard: NodeJS.Timeout | undefined
  const hung = new Promise<string>((resolve) => (guard = setTimeout(() => resolve('still warming'), 10_000)))
  try {
    const warming = pool.warmup({ connections: 2, timeoutMillis: 300 }).then(
      (report) => `${report.opened} of ${report.requested}`,
      (error: Error) => `${error.name}: ${error.message}`,
    )
    await clock.advance(300)
    // Before, it resolved at once with 2 of 2 opened and sent no ping.
    const outcome = await Promise.race([warming, hung])
    assert.match(outcome, 'PoolWarmupError')
    assert.match(outcome, 'No connection answered within 300ms')
  } finally {
    clearTimeout(guard)
    wire.clearFaults()
  }
})

Warmup('a registry warms every pool and becomes ready; a closed pool refuses to warm up', async (context) => {
  const registry = createPoolRegistry()
  const a = registry.register(openPool(context.target, { dbName: DB, minSize: 2 }))
  const b = registry.register(openPool(context.target, { dbName: DB, minSize: 1 }))
  context.pools.push(a, b)
  const report = await registry.warmup()
  assert.equal(report.pools.map((p) => [p.pool, p.opened]), [[a.name, 2], [b.name, 1]])
  assert.ok(registry.isReady)
  await registry.close()
  await rejects(a.warmup(), PoolClosedError, 'ERR_POOL_CLOSED')
})

Warmup.run()

async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

// Accepts connections and never answers: a handshake that hangs.
async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
