// The password in the connection string (or in clientOptions) never shows through the pool's public
// surface: util.inspect, JSON, toString, errors, events and metrics.
import { inspect } from 'node:util'
import { PoolWarmupError, type PoolErrorEvent } from '@lifeguard/core'
import { redactError } from '@lifeguard/core/adapter'
import type { Readable } from 'node:stream'
import { Binary, MongoBulkWriteError, MongoClient, MongoServerError, MongoServerSelectionError, type ChangeStream, type Document } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, createMongoPool, type MongoPool } from '../src/index.js'
import { CommandError, freePort, rejects, startWireServer, type CommandHandler, type WireServer } from '@lifeguard/test-kit'
import { batchedCursors } from './_helpers/cursors.js'
import { redactChangeStreamSurface } from '../src/internal/redacting-streams.js'
import { secretsOf } from '../src/internal/target.js'

const secret = 'mongo_pw_s3cret'
const proxySecret = 'proxy_pw_s3cret'

const Secrets = suite<{ pools: MongoPool[]; wires: WireServer[] }>('MongoPool secrets', { pools: [], wires: [] })

Secrets.after.each(async (context) => {
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
  await Promise.all(context.wires.splice(0).map((wire) => wire.close()))
})

function assertNoSecret(text: string, what: string): void {
  assert.not.match(text, secret, `${what} shows the password`)
  assert.not.match(text, proxySecret, `${what} shows the proxy password`)
}

Secrets("a TLS key's passphrase written in the connection string is a secret too, as in clientOptions", async () => {
  const uri = `mongodb://127.0.0.1:1/?tls=true&tlsCertificateKeyFile=/nonexistent.pem&tlsCertificateKeyFilePassword=${secret}`
  const client = new MongoClient(uri)
  // The driver keeps it as the TLS `passphrase`: a reply or an error that quotes it is redacted like a password.
  assert.ok(secretsOf(uri, client, {}).includes(secret))
  await client.close()
})

Secrets('util.inspect, JSON and toString show the pool without its connection string', async (context) => {
  const pool = createMongoPool({
    name: 'orders',
    uri: `mongodb://app:${secret}@db1:27017,db2:27018/shop?replicaSet=rs0`,
    clientOptions: { proxyHost: 'proxy.internal', proxyUsername: 'px', proxyPassword: proxySecret },
  })
  context.pools.push(pool)
  for (const [what, text] of [
    ['inspect', inspect(pool, { depth: 10, showHidden: true })],
    ['inspect of a nested pool', inspect({ pools: [pool] }, { depth: 10 })],
    ['JSON', JSON.stringify(pool)],
    ['toString', String(pool)],
    ['template', `${pool}`],
    ['metrics', JSON.stringify(pool.getPoolMetrics())],
  ] as const) {
    assertNoSecret(text, what)
  }
  assert.equal(JSON.parse(JSON.stringify(pool)), { name: 'orders', kind: 'mongodb', target: 'mongodb://app@db1:27017,db2:27018/shop', dbName: 'shop', state: 'created', minSize: 0, maxSize: 10 })
  assert.is(String(pool), "MongoPool 'orders' (mongodb://app@db1:27017,db2:27018/shop)")
  assert.match(inspect(pool), /^MongoPool \{\s+name: 'orders',\s+kind: 'mongodb',\s+target: 'mongodb:\/\/app@db1:27017,db2:27018\/shop'/)

  // What a request sees: its handle and a lease hold the pool, and show it the same way.
  const handle = createMongoHandle(pool)
  assertNoSecret(inspect(handle, { depth: 10, showHidden: true }), 'inspect of a handle')
  const lease = await pool.acquire()
  assertNoSecret(inspect(lease, { depth: 10, showHidden: true }), 'inspect of a lease')
  lease.release()
  // And what it hands out: the driver's objects hold the client, whose options hold the connection string.
  const orders = handle.collection('orders')
  for (const [what, value] of [
    ['a collection', orders],
    ['a database', handle.db()],
    ['a cursor', orders.find({})],
    ['an aggregation cursor', orders.aggregate([])],
    ["the pool's own collection", pool.collection('orders')],
  ] as const) {
    assertNoSecret(inspect(value, { depth: 10, showHidden: true }), `inspect of ${what}`)
    assertNoSecret(inspect({ nested: value }, { depth: 10 }), `inspect of ${what}, nested`)
  }
  assert.is(inspect(orders), "Collection { namespace: 'shop.orders' }")
  const session = handle.startSession()
  assertNoSecret(inspect(session, { depth: 10, showHidden: true }), 'inspect of a session')
  assertNoSecret(inspect({ session }, { depth: 10 }), 'inspect of a session, nested')
  await handle.dispose()
})

Secrets('a failed warm-up and its events name the pool and the cause, never the password', async (context) => {
  const port = await freePort()
  const errors: PoolErrorEvent[] = []
  const pool = createMongoPool({
    name: 'orders',
    uri: `mongodb://app:${secret}@127.0.0.1:${port}/shop?directConnection=true`,
    clientOptions: { serverSelectionTimeoutMS: 200 },
    events: { onError: (e) => void errors.push(e) },
  })
  context.pools.push(pool)
  const error = await rejects(pool.warmup({ timeoutMillis: 2000 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  assertNoSecret(inspect(error, { depth: 10 }), 'the warm-up error')
  assert.ok(errors.length > 0, 'the failure was reported')
  assertNoSecret(inspect(errors, { depth: 10 }), 'the error events')
  assertNoSecret(JSON.stringify(pool.getPoolMetrics()), 'the metrics')
  assertNoSecret(inspect(pool, { depth: 10, showHidden: true }), 'inspect after a failure')
})

Secrets("an operation's error reaches the caller without the password a server reply quotes", async (context) => {
  // The server's reply quotes the password (as some auth and proxy errors do); the driver keeps it in the
  // error's message and in its `errorResponse`.
  // PLAIN authentication, accepted at once, so that the password is the pool's to keep secret.
  const accepted = () => ({ conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)) })
  const refused = () => {
    throw new CommandError(2, 'BadValue', `cannot use app:${secret} here`)
  }
  const wire = await startWireServer({ commands: { saslStart: accepted, find: refused } })
  try {
    const pool = createMongoPool({ name: 'orders', uri: `mongodb://app:${secret}@127.0.0.1:${wire.port}/shop?directConnection=true&authMechanism=PLAIN` })
    context.pools.push(pool)
    const handle = createMongoHandle(pool)
    const error = await rejects(handle.collection('orders').findOne({}), Error)
    assert.is((error as { code?: number }).code, 2, 'the same class of error, with its code')
    assertNoSecret(inspect(error, { depth: 10 }), 'the error')
    await handle.dispose()
  } finally {
    await wire.close()
  }
})

// PLAIN authentication, accepted at once; the handshake itself is refused with a reply quoting the whole
// connection string, as a proxy or a misconfigured server may do. The client closes after its first failed
// connection, so later operations wait for the pool to reconnect it.
async function refusingHandshake(wires: WireServer[]): Promise<{ wire: WireServer; uri: string }> {
  const accepted = () => ({ conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)) })
  const wire = await startWireServer({ commands: { saslStart: accepted } })
  wires.push(wire)
  const uri = `mongodb://app:${secret}@127.0.0.1:${wire.port}/shop?directConnection=true&authMechanism=PLAIN&authSource=$external`
  wire.fault('hello', { kind: 'error', error: { code: 18, codeName: 'AuthenticationFailed', errmsg: `auth failed for ${uri}` }, times: 1_000_000 })
  return { wire, uri }
}

// Closes the pool and checks that the server is left with none of its connections.
async function closeOn(wire: WireServer, pool: MongoPool): Promise<void> {
  await pool.close()
  await wire.waitFor(() => wire.connectionCount === 0, 3000, 'no connection left')
}

Secrets('an error of the reconnect a later operation waits for reaches the caller without the password', async (context) => {
  const { wire, uri } = await refusingHandshake(context.wires)
  const pool = createMongoPool({ name: 'orders', uri, acquireTimeoutMillis: 2000, clientOptions: { serverSelectionTimeoutMS: 300, heartbeatFrequencyMS: 500 } })
  context.pools.push(pool)
  const first = await rejects(pool.collection('orders').findOne({}), Error)
  assertNoSecret(`${first.message} ${first.stack}`, 'the first error')
  // The driver closed the client: these wait for the pool to reconnect it, and get the reconnect's error.
  const handle = createMongoHandle(pool)
  const failures = [
    await rejects(pool.collection('orders').findOne({}), Error),
    await rejects(pool.acquire(), Error),
    await rejects(handle.withTransaction(async () => 'never'), Error),
  ]
  for (const [i, error] of failures.entries()) {
    assert.match(error.message, 'auth failed for', `the server's reason is kept (${i})`)
    assertNoSecret(`${error.message} ${error.stack}`, `the error of the reconnect path (${i})`)
  }
  await handle.dispose()
  await closeOn(wire, pool)
})

Secrets("a server selection error's reason (each server's error) is redacted for the caller, in warm-up and in events", async (context) => {
  const { wire, uri } = await refusingHandshake(context.wires)
  const errors: PoolErrorEvent[] = []
  const pool = createMongoPool({ name: 'orders', uri, acquireTimeoutMillis: 2000, clientOptions: { serverSelectionTimeoutMS: 300, heartbeatFrequencyMS: 500 }, events: { onError: (e) => void errors.push(e) } })
  context.pools.push(pool)
  const failed = await rejects(pool.collection('orders').findOne({}), MongoServerSelectionError)
  // The driver's TopologyDescription: a Map of server descriptions, each with the error quoting the server.
  const [described] = failed.reason?.servers.values() ?? []
  assert.instance(described?.error, Error, 'the reason holds the server error')
  assert.match(String(described?.error?.message), 'auth failed for ***')
  assertNoSecret(inspect(failed, { depth: Infinity }), 'the operation error')
  const warmup = await rejects(pool.warmup({ timeoutMillis: 1000 }), PoolWarmupError, 'ERR_POOL_WARMUP')
  assertNoSecret(inspect(warmup, { depth: Infinity }), 'the warm-up error')
  assert.ok(errors.length > 0, 'the failures were reported')
  assertNoSecret(inspect(errors, { depth: Infinity }), 'the error events')
  await closeOn(wire, pool)
})

Secrets("a server reply quoting the password deep in its errInfo is redacted, for the caller and in onQuery", async (context) => {
  let uri = ''
  const accepted = () => ({ conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)) })
  // Where a DocumentValidationFailure quotes the offending value.
  const refused = () => ({
    ok: 0,
    code: 121,
    codeName: 'DocumentValidationFailure',
    errmsg: 'Document failed validation',
    errInfo: { details: { schemaRulesNotSatisfied: [{ propertiesNotSatisfied: [{ details: [{ consideredValue: uri }] }] }] } },
  })
  const wire = await startWireServer({ commands: { saslStart: accepted, validate: refused } })
  context.wires.push(wire)
  uri = `mongodb://app:${secret}@127.0.0.1:${wire.port}/shop?directConnection=true&authMechanism=PLAIN`
  const queries: unknown[] = []
  const pool = createMongoPool({ name: 'orders', uri, events: { onQuery: (e) => void queries.push(e.error) } })
  context.pools.push(pool)
  const error = await rejects(pool.db().command({ validate: 1 }), MongoServerError)
  assert.is(error.code, 121)
  assert.match(JSON.stringify(error.errInfo), 'consideredValue')
  assertNoSecret(JSON.stringify(error), 'the error')
  assertNoSecret(inspect(error, { depth: Infinity }), 'the error')
  assert.is(queries.length, 1)
  assertNoSecret(inspect(queries, { depth: Infinity }), 'the onQuery error')
  await closeOn(wire, pool)
})

// A pool on a wire server whose `commands` may quote the password, with PLAIN authentication accepted at once
// (so that the password is the pool's to keep secret).
async function quotingServer(context: { pools: MongoPool[]; wires: WireServer[] }, commands: Record<string, CommandHandler>): Promise<{ wire: WireServer; pool: MongoPool }> {
  const accepted = () => ({ conversationId: 1, done: true, payload: new Binary(Buffer.alloc(0)) })
  const wire = await startWireServer({ commands: { saslStart: accepted, ...commands } })
  context.wires.push(wire)
  const pool = createMongoPool({ name: 'orders', uri: `mongodb://app:${secret}@127.0.0.1:${wire.port}/shop?directConnection=true&authMechanism=PLAIN`, clientOptions: { retryReads: false, retryWrites: false } })
  context.pools.push(pool)
  return { wire, pool }
}

const refusal = () => {
  throw new CommandError(2, 'BadValue', `cannot use app:${secret} here`)
}

// The server's refusal, redacted: same class and code, the reason kept, no password anywhere in it.
function assertRedactedRefusal(error: unknown, what: string): void {
  assert.instance(error, MongoServerError, what)
  assert.is((error as MongoServerError).code, 2, what)
  assert.is((error as MongoServerError).message, 'cannot use app:*** here', what)
  assertNoSecret(inspect(error, { depth: Infinity, showHidden: true }), what)
}

Secrets("a failed bulk write's result gives the server's write errors redacted, hidden fields included", async (context) => {
  // The driver keeps its raw bulk result on a non-enumerable `result`, which getWriteErrors() reads.
  const duplicate = `E11000 duplicate key error: { password: "${secret}" }`
  const { wire, pool } = await quotingServer(context, { insert: () => ({ n: 0, writeErrors: [{ index: 0, code: 11000, errmsg: duplicate }] }) })
  const orders = pool.collection('orders')
  for (const [what, write] of [
    ['insertMany', () => orders.insertMany([{ sku: 'a' }])],
    ['bulkWrite', () => orders.bulkWrite([{ insertOne: { document: { sku: 'a' } } }])],
  ] as const) {
    const error = await rejects(write(), MongoBulkWriteError)
    assert.is(error.code, 11000, what)
    const redacted = 'E11000 duplicate key error: { password: "***" }'
    assert.is(error.writeErrors instanceof Array ? error.writeErrors[0]?.errmsg : error.writeErrors.errmsg, redacted, what)
    assert.is(error.result.getWriteErrors()[0]?.errmsg, redacted, `${what}: getWriteErrors()`)
    assert.is(error.result.getWriteErrorAt(0)?.errmsg, redacted, `${what}: getWriteErrorAt()`)
    assert.is(error.result.hasWriteErrors(), true, what)
    assertNoSecret(inspect(error, { depth: Infinity, showHidden: true }), what)
  }
  await closeOn(wire, pool)
})

Secrets("a cursor's Node stream emits the error of a failed fetch redacted, after the documents it had", async (context) => {
  const { commands } = batchedCursors(5)
  const { wire, pool } = await quotingServer(context, { ...commands, getMore: refusal })
  const items = pool.collection('items')
  // A stream that does not fail is unchanged: every document, then its end.
  const whole: unknown[] = []
  for await (const doc of items.find({}, { batchSize: 10 }).stream()) whole.push((doc as Document)['_id'])
  assert.equal(whole, [0, 1, 2, 3, 4])

  const stream: Readable = items.find({}, { batchSize: 2 }).stream()
  const seen: unknown[] = []
  const error = await new Promise<unknown>((resolve) => stream.on('data', (doc: Document) => void seen.push(doc['_id'])).on('error', resolve))
  assert.equal(seen, [0, 1], 'the first batch came through')
  assertRedactedRefusal(error, "the 'error' event")
  assert.is(stream.errored, error, 'what the stream keeps is the redacted error')
  const iterated = await rejects(async () => {
    for await (const doc of items.find({}, { batchSize: 2 }).stream()) void doc
  }, MongoServerError)
  assertRedactedRefusal(iterated, 'for await over the stream')
  await closeOn(wire, pool)
})

// Every way a change stream reports an error, each on a stream of its own from `watch`: all redacted.
async function assertChangeStreamsRedacted(watch: () => ChangeStream): Promise<void> {
  const opened: ChangeStream[] = []
  const open = (): ChangeStream => {
    const changeStream = watch()
    opened.push(changeStream)
    return changeStream
  }
  for (const [what, call] of [
    ['next()', (changes: ChangeStream) => changes.next()],
    ['tryNext()', (changes: ChangeStream) => changes.tryNext()],
    ['hasNext()', (changes: ChangeStream) => changes.hasNext()],
    ['for await', async (changes: ChangeStream) => {
      for await (const change of changes) void change
    }],
  ] as const) {
    assertRedactedRefusal(await rejects(call(open()), MongoServerError), what)
  }
  const emitted = await new Promise<unknown>((resolve) => open().on('change', () => undefined).on('error', resolve))
  assertRedactedRefusal(emitted, "the 'error' event")
  const streamed = await new Promise<unknown>((resolve) => open().stream().on('error', resolve).resume())
  assertRedactedRefusal(streamed, "the 'error' event of stream()")
  await Promise.all(opened.map((changeStream) => changeStream.close()))
}

Secrets('a change stream rejects and emits its errors redacted, in every way it reports one', async (context) => {
  const { wire, pool } = await quotingServer(context, { aggregate: refusal })
  const orders = pool.collection('orders')
  await assertChangeStreamsRedacted(() => orders.watch())
  const ofDatabase = pool.db().watch()
  assertRedactedRefusal(await rejects(ofDatabase.next(), MongoServerError), "a database's change stream")
  await ofDatabase.close()
  await closeOn(wire, pool)
})

Secrets("the fallback for a driver without the change stream's internal hand-overs redacts at its public surface alone", async (context) => {
  const { wire, pool } = await quotingServer(context, { aggregate: refusal })
  // The driver's own collection, ungated: only the fallback stands between its errors and the caller.
  const orders = pool.client.db('shop').collection('orders')
  const redact = (error: unknown): Error => redactError(error, [secret])
  await assertChangeStreamsRedacted(() => redactChangeStreamSurface(orders.watch(), redact))
  await closeOn(wire, pool)
})

Secrets.run()
