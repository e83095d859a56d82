// A change stream opened through a request's handle is closed with the handle: a client gone from a live feed
// leaves no getMore polling on a connection of its own. Needs a server that keeps change stream cursors open
// (a replica set) and its view of them, so it runs on the wire server only.
import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { registerMongo, type MongoPool } from '../src/index.js'
import { startWireServer, type WireServer } from '@lifeguard/test-kit'
import { changeStreams, type ChangeStreamLog } from './_helpers/cursors.js'
import { openPool } from './_helpers/pools.js'
import type { TestTarget } from './_helpers/target.js'

interface Context {
  wire: WireServer
  streams: ChangeStreamLog
  pools: MongoPool[]
}

const Streams = suite<Context>('change streams of a request-scoped handle', { wire: undefined as never, streams: undefined as never, pools: [] })

Streams.before.each(async (context) => {
  const { commands, streams } = changeStreams()
  context.streams = streams
  context.wire = await startWireServer({ commands })
})

Streams.after.each(async (context) => {
  const { wire } = context
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
  await wire.waitFor(() => wire.connectionCount === 0, 3000, 'no connection left')
  await wire.close()
})

function operationOn(context: Context): OperationContext {
  const pool = openPool({ uri: context.wire.uri } as TestTarget, { dbName: 'lifeguard_streams' })
  context.pools.push(pool)
  return OperationContext.create('feed', 'GET /orders/live', { container: registerMongo(createServiceContainer(), pool) })
}

Streams('disposing the handle closes the change streams it handed out, of a collection and of a database', async (context) => {
  const { wire, streams } = context
  const operation = operationOn(context)
  const ofCollection = operation.mongodb.collection('orders').watch()
  const ofDatabase = operation.mongodb.db().watch()
  // Both are polling: a handler awaiting the next change when its client went away.
  const waits = [ofCollection.next(), ofDatabase.next()].map((wait) => wait.then(() => 'a change', () => 'ended'))
  await wire.waitFor(() => streams.open.size === 2 && streams.getMores >= 2, 3000, 'both change streams polling')
  await operation.dispose()
  assert.ok(ofCollection.closed && ofDatabase.closed, 'closed by the disposal')
  await wire.waitFor(() => streams.open.size === 0, 3000, 'no change stream cursor left open on the server')
  assert.is(streams.killed.length, 2)
  assert.equal(await Promise.all(waits), ['ended', 'ended'])
})

Streams('a change stream the handler closed itself is closed once, and the handle disposes cleanly', async (context) => {
  const { wire, streams } = context
  const operation = operationOn(context)
  const first = operation.mongodb.collection('orders').watch()
  await first.tryNext()
  await first.close()
  // Handed out after the first closed: the handle keeps the live one only.
  const second = operation.mongodb.collection('orders').watch()
  await second.tryNext()
  await operation.dispose()
  assert.ok(second.closed)
  await wire.waitFor(() => streams.open.size === 0, 3000, 'no change stream cursor left open on the server')
  assert.is(streams.killed.length, 2, 'one killCursors each')
})

Streams.run()
