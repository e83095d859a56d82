import { createRequire } from 'node:module'
import { connect, type Socket } from 'node:net'
import { deserialize, serialize, type Document } from 'bson'
import { MongoClient, MongoServerError } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from '../src/index.js'
import { startWireServer, type WireServer } from '../src/index.js'

// The driver minor this server was checked against. Wire version bounds and backpressure rules move between
// minor releases: when an upgrade fails here, re-check the hello reply before widening this.
const TESTED_DRIVER = '7.9'

const installedDriver = (createRequire(import.meta.url)('mongodb/package.json') as { version: string }).version

const Handshake = suite<{ server: WireServer; clients: MongoClient[] }>('wire server handshake', {
  server: undefined as never,
  clients: [],
})

function newClient(context: { server: WireServer; clients: MongoClient[] }): MongoClient {
  const client = new MongoClient(context.server.uri, { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 2000 })
  context.clients.push(client)
  return client
}

Handshake.before(async (context) => {
  context.server = await startWireServer()
})

Handshake.after(async (context) => {
  await Promise.all(context.clients.map((client) => client.close()))
  await context.server.close()
})

Handshake('the installed driver is the minor this server was tested against', () => {
  const [major, minor] = installedDriver.split('.')
  assert.is(`${major}.${minor}`, TESTED_DRIVER, `mongodb ${installedDriver} installed; re-check the wire server`)
})

Handshake('the real driver completes its handshake, pings, and its connections close on client.close()', async (context) => {
  const client = newClient(context)
  await client.connect()
  assert.equal(await client.db('admin').command({ ping: 1 }), { ok: 1 })

  const [first] = context.server.connections
  // 7.x still opens every connection with a legacy `ismaster` carrying its own name and version.
  assert.is(first?.handshake?.['ismaster'], 1)
  assert.is(first?.handshake?.['client']?.driver?.name, 'nodejs')
  assert.is(first?.handshake?.['client']?.driver?.version, installedDriver)

  await client.close()
  await context.server.waitFor(() => context.server.connectionCount === 0, 2000, 'all sockets closed')
  assert.is(context.server.connectionCount, 0)
})

Handshake('the monitor heartbeats on its own connection, which is told apart from pool connections', async (context) => {
  const client = newClient(context)
  await client.db('admin').command({ ping: 1 })
  const { server } = context
  await server.waitFor(() => server.monitorConnectionCount === 1, 2000, 'a monitor heartbeat')
  assert.is(server.connectionCount, 2)
  assert.is(server.poolConnectionCount, 1)
  const pool = server.connections.find((c) => c.kind === 'pool')
  assert.ok(server.commands.some((c) => c.name === 'ping' && c.connectionId === pool?.id))
  // Heartbeats stay out of the log unless asked for.
  assert.not.ok(server.commands.some((c) => c.name === 'hello' || c.name === 'ismaster'))
  await client.close()
  await server.waitFor(() => server.connectionCount === 0, 2000, 'all sockets closed')
})

Handshake('hello reports a writable standalone without topologyVersion, setName or compression', async (context) => {
  const reply = await newClient(context).db('admin').command({ hello: 1 })
  assert.is(reply['isWritablePrimary'], true)
  assert.is(reply['helloOk'], true)
  assert.is(reply['logicalSessionTimeoutMinutes'], 30)
  assert.ok(reply['maxWireVersion'] >= 9)
  assert.type(reply['connectionId'], 'number')
  assert.instance(reply['localTime'], Date)
  for (const absent of ['topologyVersion', 'setName', 'msg', 'compression']) assert.not.ok(absent in reply, absent)
})

Handshake('an unknown command fails with CommandNotFound (59)', async (context) => {
  const error = await rejects(newClient(context).db('admin').command({ frobnicate: 1 }), MongoServerError, 59)
  assert.is(error.codeName, 'CommandNotFound')
  assert.match(error.message, 'no such command: frobnicate')
})

Handshake('a w:0 write is applied and gets no reply, and the connection stays usable', async (context) => {
  const client = newClient(context)
  const orders = client.db('handshake').collection('unacknowledged')
  const result = await orders.insertOne({ sku: 'w0' }, { writeConcern: { w: 0 } })
  assert.is(result.acknowledged, false)
  await context.server.waitFor(() => context.server.documents('handshake.unacknowledged').length === 1)
  // A stray reply would be read as the answer to this ping and break it.
  assert.equal(await client.db('admin').command({ ping: 1 }), { ok: 1 })
})

Handshake('OP_MSG kind-1 sequences are merged, a checksum is skipped, moreToCome gets no reply', async (context) => {
  const socket = connect(context.server.port, '127.0.0.1')
  try {
    await new Promise((resolve) => socket.once('connect', resolve))
    const replies = collectReplies(socket)
    socket.write(opMsg(1, { insert: 'raw', $db: 'handshake' }, { documents: [{ _id: 1 }, { _id: 2 }] }, 0))
    socket.write(opMsg(2, { insert: 'raw', $db: 'handshake', documents: [{ _id: 3 }] }, undefined, 1 << 1))
    socket.write(opMsg(3, { ping: 1, $db: 'admin' }, undefined, 1 << 0))
    await context.server.waitFor(() => replies.length === 2, 2000, 'two replies')
    assert.equal(replies.map((r) => [r.responseTo, r.body['ok'], r.body['n']]), [[1, 1, 2], [3, 1, undefined]])
    assert.equal(context.server.documents('handshake.raw').map((d) => d['_id']), [1, 2, 3])
    const logged = context.server.commands.find((c) => c.name === 'insert' && c.body['insert'] === 'raw')
    assert.equal(logged?.body['documents'], [{ _id: 1 }, { _id: 2 }])
  } finally {
    socket.destroy()
  }
})

Handshake.run()

// Builds an OP_MSG by hand: body section, optional one kind-1 sequence, optional (zeroed) CRC trailer.
function opMsg(requestId: number, body: Document, sequence: Record<string, Document[]> | undefined, flags: number): Buffer {
  const parts: Buffer[] = [Buffer.from([0]), Buffer.from(serialize(body))]
  for (const [identifier, documents] of Object.entries(sequence ?? {})) {
    const payload = Buffer.concat([Buffer.from(`${identifier}\0`), ...documents.map((d) => Buffer.from(serialize(d)))])
    const size = Buffer.alloc(4)
    size.writeInt32LE(payload.length + 4)
    parts.push(Buffer.from([1]), size, payload)
  }
  if (flags & 1) parts.push(Buffer.alloc(4))
  const head = Buffer.alloc(20)
  head.writeInt32LE(requestId, 4)
  head.writeInt32LE(2013, 12)
  head.writeUInt32LE(flags, 16)
  const message = Buffer.concat([head, ...parts])
  message.writeInt32LE(message.length, 0)
  return message
}

function collectReplies(socket: Socket): Array<{ responseTo: number; body: Document }> {
  const replies: Array<{ responseTo: number; body: Document }> = []
  let pending = Buffer.alloc(0)
  socket.on('data', (chunk: Buffer) => {
    pending = Buffer.concat([pending, chunk])
    while (pending.length >= 4 && pending.length >= pending.readInt32LE(0)) {
      const length = pending.readInt32LE(0)
      replies.push({ responseTo: pending.readInt32LE(8), body: deserialize(pending.subarray(21, length)) })
      pending = pending.subarray(length)
    }
  })
  return replies
}
