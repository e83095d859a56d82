import { MongoClient, MongoError, MongoNetworkError, MongoNetworkTimeoutError, MongoServerError, type MongoClientOptions } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from '../src/index.js'
import { SHUTDOWN_IN_PROGRESS, startWireServer, type WireServer } from '../src/index.js'

interface Context {
  server: WireServer
  clients: MongoClient[]
}

const POOL_EVENTS = ['connectionPoolReady', 'connectionPoolCleared', 'connectionCreated', 'connectionClosed', 'connectionCheckOutFailed'] as const

/** A client without retries (one fault, one failure) that records its CMAP events as `name` or `name:reason`. */
function openClient(context: Context, options: MongoClientOptions = {}): { client: MongoClient; events: string[] } {
  const client = new MongoClient(context.server.uri, {
    heartbeatFrequencyMS: 500,
    serverSelectionTimeoutMS: 2000,
    retryReads: false,
    retryWrites: false,
    ...options,
  })
  const events: string[] = []
  for (const name of POOL_EVENTS) {
    client.on(name, (event: { reason?: string }) => events.push(event.reason === undefined ? name : `${name}:${event.reason}`))
  }
  context.clients.push(client)
  return { client, events }
}

const Faults = suite<Context>('wire server faults', { server: undefined as never, clients: [] })

Faults.before(async (context) => {
  context.server = await startWireServer()
})

Faults.after.each(async (context) => {
  await Promise.all(context.clients.splice(0).map((client) => client.close()))
  context.server.clearFaults()
  context.server.refuseNewConnections(false)
  await context.server.waitFor(() => context.server.connectionCount === 0, 2000, 'all sockets closed')
})

Faults.after(async (context) => {
  await context.server.close()
})

Faults('closeSocket mid-command fails the command and clears the pool until the next heartbeat', async (context) => {
  const { client, events } = openClient(context)
  const orders = client.db('faults').collection('orders')
  await client.connect()
  context.server.fault('find', { kind: 'closeSocket' })
  await rejects(orders.findOne({}), MongoNetworkError)
  assert.ok(events.includes('connectionPoolCleared'), events.join(' '))
  assert.ok(events.includes('connectionClosed:error'), events.join(' '))

  const cleared = events.lastIndexOf('connectionPoolCleared')
  await context.server.waitFor(() => events.lastIndexOf('connectionPoolReady') > cleared, 2000, 'the pool ready again')
  assert.is(await orders.findOne({}), null)
})

Faults('an error fault replies ShutdownInProgress (91) unless given another error', async (context) => {
  const { client } = openClient(context)
  const admin = client.db('admin')
  context.server.fault('ping', { kind: 'error' })
  const shutdown = await rejects(admin.command({ ping: 1 }), MongoServerError, SHUTDOWN_IN_PROGRESS.code)
  assert.is(shutdown.codeName, 'ShutdownInProgress')

  context.server.fault('ping', { kind: 'error', error: { code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' } })
  const slow = await rejects(admin.command({ ping: 1 }), MongoServerError, 50)
  assert.match(slow.message, 'exceeded time limit')
})

Faults('times limits how many commands a fault hits', async (context) => {
  const { client } = openClient(context)
  const admin = client.db('admin')
  context.server.fault('ping', { kind: 'error', times: 2 })
  await rejects(admin.command({ ping: 1 }), MongoServerError, 91)
  await rejects(admin.command({ ping: 1 }), MongoServerError, 91)
  assert.equal(await admin.command({ ping: 1 }), { ok: 1 })
})

Faults('a delay holds the reply, and a socket timeout shorter than the delay ends the command', async (context) => {
  const { client } = openClient(context, { socketTimeoutMS: 300 })
  const admin = client.db('admin')
  await admin.command({ ping: 1 })

  context.server.fault('ping', { kind: 'delay', delayMillis: 50 })
  const started = Date.now()
  assert.equal(await admin.command({ ping: 1 }), { ok: 1 })
  assert.ok(Date.now() - started >= 45, `answered after ${Date.now() - started}ms`)

  context.server.fault('ping', { kind: 'delay', delayMillis: 5000 })
  await rejects(admin.command({ ping: 1 }), MongoNetworkTimeoutError)
})

Faults('a fault on a command leaves heartbeats alone; a hello fault reaches the monitor', async (context) => {
  const { client } = openClient(context)
  const { server } = context
  const failedHeartbeats: unknown[] = []
  client.on('serverHeartbeatFailed', (event) => failedHeartbeats.push(event.failure))
  await client.connect()
  server.fault('ping', { kind: 'error' })
  const monitorHeartbeats = () => server.connections.find((c) => c.kind === 'monitor')?.heartbeats ?? 0
  await server.waitFor(() => monitorHeartbeats() >= 2, 3000, 'two heartbeats')
  // The heartbeats did not use up the ping fault.
  await rejects(client.db('admin').command({ ping: 1 }), MongoServerError, 91)

  server.fault('hello', { kind: 'error' })
  await server.waitFor(() => failedHeartbeats.length > 0, 3000, 'a failed heartbeat')
  assert.instance(failedHeartbeats[0], MongoServerError)
})

Faults('refused new connections give connectionCheckOutFailed without clearing the pool', async (context) => {
  const { client, events } = openClient(context)
  const orders = client.db('faults').collection('orders')
  await client.connect() // leaves one idle pool connection
  context.server.refuseNewConnections(true)
  // The first find holds the only connection, so the second must open a new one.
  context.server.fault('find', { kind: 'delay', delayMillis: 100 })
  const [held, refused] = await Promise.allSettled([orders.findOne({}), orders.findOne({})])
  assert.is(held.status, 'fulfilled')
  assert.is(refused.status, 'rejected')
  assert.instance((refused as PromiseRejectedResult).reason, MongoNetworkError)
  assert.ok(events.includes('connectionCheckOutFailed:connectionError'), events.join(' '))
  assert.not.ok(events.includes('connectionPoolCleared'), events.join(' '))
  assert.ok(context.server.refusedCount >= 1)

  context.server.refuseNewConnections(false)
  await Promise.all([orders.findOne({}), orders.findOne({})])
})

Faults('goAway drops every connection and restart brings the same address back', async (context) => {
  const { client } = openClient(context, { serverSelectionTimeoutMS: 300 })
  const admin = client.db('admin')
  await admin.command({ ping: 1 })
  const { server } = context
  const port = server.port
  await server.goAway()
  assert.is(server.connectionCount, 0)
  await rejects(admin.command({ ping: 1 }), MongoError)

  await server.restart()
  assert.is(server.port, port)
  await server.waitFor(() => server.connectionCount > 0, 3000, 'a reconnect')
  assert.equal(await admin.command({ ping: 1 }), { ok: 1 })
})

Faults.run()
