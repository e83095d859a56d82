import { AbstractCursor, ChangeStream, Collection, Db, MongoClient } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { Admit } from '../src/internal/gate.js'
import { gated } from '../src/internal/gated-proxy.js'
import { changeStreamErrorHooks } from '../src/internal/redacting-streams.js'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_gated'

interface Context {
  target: TestTarget
  client: MongoClient
}

const Gated = suite<Context>('gated driver objects', { target: undefined as never, client: undefined as never })

Gated.before(async (context) => {
  context.target = await startTarget([DB])
  context.client = new MongoClient(context.target.uri, { heartbeatFrequencyMS: 500, appName: 'lifeguard-gated-test' })
})

Gated.after(async (context) => {
  await context.client.close()
  await context.target.waitForNoConnections('lifeguard-gated-test')
  await context.target.close()
})

const kind = (fn: unknown) => (fn as { constructor: { name: string } }).constructor.name

// No redaction: these tests are about admission.
const keep = (error: unknown) => error

// The proxy tells server calls apart by the driver's own `async` methods: if an upgrade changes that, this fails.
Gated('the pinned driver declares its server calls async and its cursor factories sync', () => {
  for (const name of ['insertOne', 'insertMany', 'updateOne', 'deleteMany', 'findOne', 'countDocuments', 'bulkWrite', 'findOneAndUpdate'] as const) {
    assert.is(kind(Collection.prototype[name]), 'AsyncFunction', `Collection#${name}`)
  }
  for (const name of ['command', 'createCollection', 'dropDatabase'] as const) assert.is(kind(Db.prototype[name]), 'AsyncFunction', `Db#${name}`)
  for (const name of ['next', 'tryNext', 'hasNext', 'toArray', 'close'] as const) assert.is(kind(AbstractCursor.prototype[name]), 'AsyncFunction', `cursor#${name}`)
  assert.is(kind(AbstractCursor.prototype[Symbol.asyncIterator]), 'AsyncGeneratorFunction')
  for (const name of ['find', 'aggregate', 'listIndexes', 'watch'] as const) assert.is(kind(Collection.prototype[name]), 'Function', `Collection#${name}`)
})

// A change stream's errors are redacted where the driver hands them over: if an upgrade renames those methods, this fails.
Gated('the pinned driver hands change stream errors to the methods the redaction wraps', () => {
  for (const name of changeStreamErrorHooks) assert.type((ChangeStream.prototype as unknown as Record<string, unknown>)[name], 'function', `ChangeStream#${name}`)
})

Gated('every server call goes through admit once; builders return the proxy; db.collection() is gated too', async (context) => {
  const admitted: string[] = []
  let label = ''
  const admit: Admit = (operation) => {
    admitted.push(label)
    return operation()
  }
  const db = gated(context.client.db(DB), admit, keep)
  const items = db.collection('items')
  assert.instance(items, Collection)

  label = 'insertMany'
  await items.insertMany([{ n: 2 }, { n: 1 }, { n: 3 }])
  label = 'countDocuments'
  assert.is(await items.countDocuments({}), 3)
  label = 'toArray'
  const cursor = items.find({})
  assert.is(cursor.sort({ n: 1 }), cursor, 'a builder returns the proxy')
  assert.equal((await cursor.limit(2).toArray()).map((d) => d['n']), [1, 2])
  label = 'close'
  await cursor.close()
  label = 'command'
  await db.command({ ping: 1 })
  assert.equal(admitted, ['insertMany', 'countDocuments', 'toArray', 'command'], 'close is never gated')
})

Gated('for await takes a slot only for steps that fetch a batch', async (context) => {
  let admits = 0
  const admit: Admit = (operation) => {
    admits++
    return operation()
  }
  const items = gated(context.client.db(DB).collection('batches'), admit, keep)
  await items.insertMany(Array.from({ length: 5 }, (_, n) => ({ n })))
  admits = 0
  const seen: number[] = []
  for await (const doc of items.find({}).batchSize(2)) seen.push(doc['n'])
  assert.equal(seen, [0, 1, 2, 3, 4])
  // The first batch and each getMore fetch; documents already buffered do not. Exact counts depend on the
  // server's batching, so the bound is what matters: fewer admissions than documents.
  assert.ok(admits >= 1 && admits < seen.length, `${admits} admissions for ${seen.length} documents`)
})

Gated.run()
