// The password in the connection string (or in clientOptions) never shows through the pool's public
// surface: util.inspect, JSON, toString, errors, events and metrics.
import { inspect } from 'node:util'
import { PoolWarmupError, type PoolErrorEvent } from '@lifeguard/core'
import { Binary } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, createMongoPool, type MongoPool } from '../src/index.js'
import { CommandError, freePort, rejects, startWireServer } from '@lifeguard/test-kit'

const secret = 'mongo_pw_s3cret'
const proxySecret = 'proxy_pw_s3cret'

const Secrets = suite<{ pools: MongoPool[] }>('MongoPool secrets', { pools: [] })

Secrets.after.each(async (context) => {
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
})

function assertNoSecret(text: string, what: string): void {
  assert.not.match(text, secret, `${what} shows the password`)
  assert.not.match(text, proxySecret, `${what} shows the proxy password`)
}

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

Secrets.run()
