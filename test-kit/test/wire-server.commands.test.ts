import { MongoBulkWriteError, MongoClient, MongoServerError, ObjectId } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { rejects } from '../src/index.js'
import { CommandError, startWireServer, type WireServer } from '../src/index.js'

interface Context {
  server: WireServer
  client: MongoClient
}

const Commands = suite<Context>('wire server commands', { server: undefined as never, client: undefined as never })

Commands.before(async (context) => {
  context.server = await startWireServer({
    // An extension point for tests that need a command the server does not know.
    commands: {
      whoami: (_command, { db, connectionId }) => ({ db, connectionId }),
      refuse: () => {
        throw new CommandError(13, 'Unauthorized', 'not allowed')
      },
    },
  })
  context.client = new MongoClient(context.server.uri, { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 2000 })
  await context.client.connect()
})

Commands.before.each((context) => context.server.clearLog())

Commands.after(async (context) => {
  await context.client.close()
  await context.server.waitFor(() => context.server.connectionCount === 0, 2000, 'all sockets closed')
  await context.server.close()
})

Commands('insert, find, update and delete round-trip through the driver and are logged', async ({ client, server }) => {
  const orders = client.db('shop').collection('orders')
  const { insertedId } = await orders.insertOne({ sku: 'a', qty: 1 })
  await orders.insertMany([{ sku: 'b', qty: 5 }, { sku: 'c', qty: 3 }])

  assert.equal((await orders.find({ _id: insertedId }).toArray()).map((d) => d['sku']), ['a'])
  const big = await orders.find({ qty: { $gte: 3 } }).sort({ qty: -1 }).limit(1).toArray()
  assert.equal(big.map((d) => d['sku']), ['b'])

  const updated = await orders.updateOne({ sku: 'a' }, { $set: { qty: 2 }, $inc: { version: 1 } })
  assert.equal([updated.matchedCount, updated.modifiedCount], [1, 1])
  const deleted = await orders.deleteOne({ sku: 'c' })
  assert.is(deleted.deletedCount, 1)

  assert.equal(
    (await orders.find({}).toArray()).map((d) => [d['sku'], d['qty'], d['version']]),
    [['a', 2, 1], ['b', 5, undefined]],
  )
  assert.is(await orders.countDocuments({ qty: { $lt: 5 } }), 1)
  assert.equal(
    server.commands.map((c) => `${c.name} ${c.db}`),
    ['insert shop', 'insert shop', 'find shop', 'find shop', 'update shop', 'delete shop', 'find shop', 'aggregate shop'],
  )
  const update = server.commands.find((c) => c.name === 'update')
  assert.equal(update?.body['updates'][0].q, { sku: 'a' })
})

Commands('replaceOne, upsert and deleteMany behave like the server', async ({ client, server }) => {
  const items = client.db('shop').collection('items')
  await items.insertMany([{ _id: 1, tag: 'x' } as never, { _id: 2, tag: 'x' } as never])
  const replaced = await items.replaceOne({ _id: 1 } as never, { tag: 'y' })
  assert.is(replaced.modifiedCount, 1)
  const upserted = await items.updateOne({ tag: 'z' }, { $set: { n: 1 } }, { upsert: true })
  assert.instance(upserted.upsertedId, ObjectId)
  const removed = await items.deleteMany({ tag: { $in: ['x', 'y'] } })
  assert.is(removed.deletedCount, 2)
  assert.equal(server.documents('shop.items').map((d) => [d['tag'], d['n']]), [['z', 1]])
})

Commands('a duplicate _id is a write error with code 11000', async ({ client }) => {
  const users = client.db('shop').collection('users')
  await users.insertOne({ _id: 'ann' } as never)
  const error = await rejects(users.insertOne({ _id: 'ann' } as never), MongoServerError, 11000)
  assert.match(error.message, 'duplicate key')
  await rejects(users.insertMany([{ _id: 'bob' } as never, { _id: 'ann' } as never]), MongoBulkWriteError, 11000)
})

Commands('a query the server does not implement fails loudly with BadValue', async ({ client }) => {
  const error = await rejects(client.db('shop').collection('orders').findOne({ sku: { $regex: 'a' } }), MongoServerError, 2)
  assert.match(error.message, 'unsupported query operator $regex')
})

Commands('seed() and documents() reach the store without a client', async ({ client, server }) => {
  server.seed('shop.seeded', [{ _id: 1, name: 'one' }])
  const found = await client.db('shop').collection('seeded').findOne({ name: 'one' })
  assert.equal(found, { _id: 1, name: 'one' })
  assert.equal(server.documents('shop.seeded'), [{ _id: 1, name: 'one' }])
})

Commands('custom handlers answer, and a thrown CommandError becomes an error reply', async ({ client }) => {
  const reply = await client.db('custom').command({ whoami: 1 })
  assert.is(reply['db'], 'custom')
  assert.is(reply['ok'], 1)
  const error = await rejects(client.db('custom').command({ refuse: 1 }), MongoServerError, 13)
  assert.is(error.codeName, 'Unauthorized')
})

Commands('withTransaction sends the transaction to the server and commits', async ({ client, server }) => {
  const ledger = client.db('bank').collection('ledger')
  const session = client.startSession()
  try {
    await session.withTransaction(async () => {
      await ledger.insertOne({ amount: 10 }, { session })
      await ledger.updateOne({ amount: 10 }, { $set: { booked: true } }, { session })
    })
  } finally {
    await session.endSession()
  }
  const [insert, update, commit] = server.commands
  assert.is(insert?.body['startTransaction'], true)
  assert.is(insert?.body['autocommit'], false)
  assert.is(update?.body['autocommit'], false)
  assert.is(commit?.name, 'commitTransaction')
  assert.is(commit?.db, 'admin')
  assert.equal(server.documents('bank.ledger').map((d) => d['booked']), [true])
})

Commands('abortTransaction rolls back the writes made in the transaction', async ({ client, server }) => {
  const ledger = client.db('bank').collection('aborted')
  await ledger.insertOne({ _id: 1, amount: 1 } as never)
  const session = client.startSession()
  try {
    session.startTransaction()
    await ledger.insertOne({ _id: 2, amount: 2 } as never, { session })
    await ledger.updateOne({ _id: 1 } as never, { $set: { amount: 100 } }, { session })
    await ledger.deleteOne({ _id: 1 } as never, { session })
    await session.abortTransaction()
  } finally {
    await session.endSession()
  }
  assert.ok(server.commands.some((c) => c.name === 'abortTransaction'))
  assert.equal(server.documents('bank.aborted'), [{ _id: 1, amount: 1 }])
})

Commands.run()

const Sessions = suite<{ server: WireServer }>('wire server sessions', { server: undefined as never })

Sessions.before(async (context) => {
  context.server = await startWireServer()
})

Sessions.after(async (context) => {
  await context.server.close()
})

Sessions('client.close() sends endSessions for the sessions it used', async ({ server }) => {
  const client = new MongoClient(server.uri, { heartbeatFrequencyMS: 500, serverSelectionTimeoutMS: 2000 })
  try {
    await client.db('shop').collection('orders').insertOne({ sku: 'a' })
    const lsid = server.commands.find((c) => c.name === 'insert')?.body['lsid']
    assert.ok(lsid, 'the insert carried an implicit session')
  } finally {
    await client.close()
  }
  // endSessions is sent with w:0 (moreToCome), so close() does not wait for the server to read it.
  await server.waitFor(() => server.commands.some((c) => c.name === 'endSessions'), 2000, 'endSessions')
  const ended = server.commands.find((c) => c.name === 'endSessions')
  assert.is(ended?.db, 'admin')
  assert.is(ended?.body['endSessions'].length, 1)
  await server.waitFor(() => server.connectionCount === 0, 2000, 'all sockets closed')
})

Sessions.run()
