// Bad input to the pool's factory and methods: each is an InvalidOptionError naming the option, never a
// TypeError and never a value a Node.js timer silently turns into ~1 ms.
import { createServiceContainer, InvalidOptionError, type PoolEventName } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, createMongoPool, registerMongo, type MongoPool, type MongoPoolOptions } from '../src/index.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

const BadInput = suite<{ pools: MongoPool[] }>('MongoPool bad input', { pools: [] })

BadInput.after.each(async (context) => {
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
})

// Nothing listens here: these tests never connect.
const uri = 'mongodb://127.0.0.1:9/?directConnection=true'
const TIMER_RANGE = 'an integer number of milliseconds between'

function thrown(fn: () => unknown): InvalidOptionError {
  try {
    fn()
  } catch (error) {
    assert.instance(error, InvalidOptionError, `got ${String(error)}`)
    assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
    return error as InvalidOptionError
  }
  assert.unreachable('accepted')
  throw new Error('unreachable')
}

const create = (options: Record<string, unknown>) => thrown(() => createMongoPool({ name: 'orders', uri, ...options } as MongoPoolOptions))

BadInput('every duration option is capped at the longest delay a Node.js timer honours (2^31-1 ms)', () => {
  for (const [option, min] of [['acquireTimeoutMillis', 1], ['maxIdleTimeMillis', 0], ['leakDetectionMillis', 0]] as const) {
    const error = create({ [option]: 2 ** 32 })
    assert.is(error.option, option)
    assert.is(error.message, `Invalid options for createMongoPool: expected \`${option}\` to be ${TIMER_RANGE} ${min} and 2147483647, got \`4294967296\` (number).`)
    assert.is(create({ [option]: 2 ** 31 }).option, option)
  }
})

BadInput("the driver's own durations are checked too, from clientOptions and from the connection string", () => {
  const fromOptions = create({ clientOptions: { serverSelectionTimeoutMS: 2 ** 32 } })
  assert.is(fromOptions.option, 'clientOptions.serverSelectionTimeoutMS')
  assert.match(fromOptions.message, `${TIMER_RANGE} 0 and 2147483647, got \`4294967296\``)
  assert.is(create({ clientOptions: { heartbeatFrequencyMS: 2 ** 32 } }).option, 'clientOptions.heartbeatFrequencyMS')
  const secret = 'pw-s3cret'
  const fromUri = thrown(() => createMongoPool({ name: 'orders', uri: `mongodb://app:${secret}@127.0.0.1:9/?socketTimeoutMS=4294967296` }))
  assert.is(fromUri.option, 'socketTimeoutMS')
  assert.match(fromUri.message, 'Invalid options for createMongoPool (connection string): expected `socketTimeoutMS`')
  assert.not.match(fromUri.message, secret)
})

BadInput('a number written as a string in clientOptions is checked, and named, as clientOptions', () => {
  const error = create({ clientOptions: { heartbeatFrequencyMS: '100' } })
  assert.is(error.option, 'clientOptions.heartbeatFrequencyMS')
  assert.match(error.message, 'Invalid options for createMongoPool: expected `clientOptions.heartbeatFrequencyMS` to be')
})

BadInput("the connection string's database and appName follow the rules of the dbName and appName options", async () => {
  const secret = 'pw-s3cret'
  const database = thrown(() => createMongoPool({ name: 'orders', uri: `mongodb://app:${secret}@127.0.0.1:9/a$b` }))
  assert.is(database.option, 'database')
  assert.match(database.message, 'Invalid options for createMongoPool (connection string): expected `database` to be a MongoDB database name')
  const appName = thrown(() => createMongoPool({ name: 'orders', uri: `mongodb://app:${secret}@127.0.0.1:9/orders?appName=${'x'.repeat(129)}` }))
  assert.is(appName.option, 'appName')
  assert.match(appName.message, 'expected `appName` to be a non-empty string of at most 128 bytes')
  for (const error of [database, appName]) assert.not.match(error.message, secret)
  // What the options would take is taken here too; the driver's default database is not checked.
  const fine = createMongoPool({ name: 'orders', uri: `mongodb://127.0.0.1:9/orders?appName=${'x'.repeat(128)}` })
  const fineToo = createMongoPool({ name: 'orders', uri: 'mongodb://127.0.0.1:9', dbName: 'orders' })
  await Promise.all([fine.close(), fineToo.close()])
})

BadInput('a listener map with a typo, a non-function or a non-object entry is refused, naming the entry', () => {
  const typo = create({ events: { onErorr: () => {} } })
  assert.is(typo.option, 'events.onErorr')
  assert.match(typo.message, 'unknown listener `events.onErorr`. Known listeners: `onConnect`')
  const notAFunction = create({ events: { onError: 5 } })
  assert.is(notAFunction.option, 'events.onError')
  assert.match(notAFunction.message, 'expected `events.onError` to be a function, got `5` (number)')
  assert.is(create({ events: ['x'] }).option, 'events[0]')
  assert.is(create({ events: [{ onConnect: () => {} }, { onRelease: 'log' }] }).option, 'events[1].onRelease')
})

BadInput('warmup, close and resize check their arguments first; a missing size is not a TypeError', async (context) => {
  const pool = createMongoPool({ name: 'orders', uri, maxSize: 4 })
  context.pools.push(pool)
  const warmupTimeout = await rejects(pool.warmup({ timeoutMillis: 2 ** 32 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(warmupTimeout.option, 'timeoutMillis')
  assert.match(warmupTimeout.message, `Invalid options for warmup: expected \`timeoutMillis\` to be ${TIMER_RANGE} 1 and 2147483647`)
  assert.is((await rejects(pool.warmup({ connections: 0 }), InvalidOptionError)).expected, 'an integer between 1 and 4')
  // Rejected, like every other failure of close() (and as the PostgreSQL pool does).
  const closeTimeout = await rejects(pool.close({ timeoutMillis: 2 ** 32 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(closeTimeout.option, 'timeoutMillis')
  assert.match(closeTimeout.message, `Invalid options for close: expected \`timeoutMillis\` to be ${TIMER_RANGE} 0 and 2147483647`)
  for (const size of [undefined, null, 5]) {
    const error = thrown(() => pool.resize(size as never))
    assert.is(error.option, 'size')
    assert.match(error.message, 'Invalid options for resize: expected `size` to be an object')
  }
  assert.is(pool.state, 'created', 'no call changed the pool')
  assert.equal([pool.minSize, pool.maxSize], [0, 4])
})

BadInput('on() refuses an unknown event and a listener that is not a function', (context) => {
  const pool = createMongoPool({ name: 'orders', uri })
  context.pools.push(pool)
  assert.is(thrown(() => pool.on('conect' as PoolEventName, () => {})).option, 'event')
  assert.is(thrown(() => pool.on('error', 'log' as unknown as () => void)).option, 'listener')
  const off = pool.on('error', () => {})
  off()
})

BadInput('acquire() refuses options that are not an object with a signal', async (context) => {
  const pool = createMongoPool({ name: 'orders', uri })
  context.pools.push(pool)
  assert.is((await rejects(pool.acquire({ signal: 'now' } as never), InvalidOptionError)).option, 'signal')
  assert.is((await rejects(pool.acquire({ sginal: undefined } as never), InvalidOptionError)).option, 'sginal')
})

BadInput('a database name the server would refuse every operation on is refused when the pool is made', () => {
  for (const dbName of ['a b', 'a.b', 'a$b', 'a/b', 'x'.repeat(64)]) {
    const error = create({ dbName })
    assert.is(error.option, 'dbName')
    assert.match(error.message, 'a MongoDB database name (1 to 63 bytes')
  }
})

BadInput('an appName longer than the 128 bytes the driver sends is refused, not cut short without a word', (context) => {
  for (const appName of ['x'.repeat(129), 'é'.repeat(65), '']) {
    const error = create({ appName })
    assert.is(error.option, 'appName')
    assert.match(error.message, 'a non-empty string of at most 128 bytes')
  }
  const longest = createMongoPool({ name: 'orders', uri, appName: 'é'.repeat(64) })
  context.pools.push(longest)
  assert.is(longest.client.options.appName, 'é'.repeat(64))
})

BadInput('an appName that is a connection string or holds credentials is refused without showing them, as an option and in the connection string', () => {
  const secret = 's3cr3tPW'
  // Each with the password it must not show: a space in one is past what redaction finds.
  const given: [string, string][] = [
    [`mongodb://alice:${secret}@db.example.com:27017/orders`, secret],
    ['mongodb://alice:two words@db.example.com/orders', 'words'],
    [`mongodb+srv://alice:${secret}@cluster0.example.net/?retryWrites=true`, secret],
    [`alice:${secret}@db.example.com`, secret],
    [`host=db password=${secret}`, secret],
  ]
  const expected = 'expected `appName` to be a non-empty string of at most 128 bytes of printable characters that is not a connection string'
  for (const [appName, password] of given) {
    const error = create({ appName })
    assert.is(error.option, 'appName', appName)
    assert.match(error.message, `Invalid options for createMongoPool: ${expected}`)
    assert.not.match(error.message, password, appName)
    const fromUri = thrown(() => createMongoPool({ name: 'orders', uri: `mongodb://127.0.0.1:9/?appName=${encodeURIComponent(appName)}` }))
    assert.is(fromUri.option, 'appName', appName)
    assert.match(fromUri.message, `Invalid options for createMongoPool (connection string): ${expected}`)
    assert.not.match(fromUri.message, password, appName)
  }
  // A line break would forge a line in the server's log.
  assert.is(create({ appName: 'orders\nforged' }).option, 'appName')
})

BadInput('a pool size no server serves (2 ** 31 meant as no limit) is refused, as on PostgreSQL', () => {
  for (const option of ['maxSize', 'maxSizeLimit'] as const) {
    const error = throwsError(() => createMongoPool({ name: 'orders', uri: 'mongodb://127.0.0.1:1', [option]: 2 ** 31 }), InvalidOptionError)
    assert.is(error.option, option)
    assert.match(error.message, '10000')
  }
})

BadInput('a minSize above the default maxSize asks for a maxSize, as on PostgreSQL', () => {
  const error = create({ minSize: 20 })
  assert.is(error.option, 'minSize')
  assert.match(error.message, 'an integer <= `maxSize` (10)')
})

BadInput('registerMongo, createMongoHandle and withTransaction check their arguments when given', async (context) => {
  const pool = createMongoPool({ name: 'orders', uri })
  context.pools.push(pool)
  const container = createServiceContainer()
  assert.is(thrown(() => registerMongo(container, undefined as never)).option, 'pool')
  assert.is(thrown(() => registerMongo(undefined as never, pool)).option, 'container')
  assert.is(thrown(() => registerMongo(container, pool, null as never)).option, 'options')
  assert.match(thrown(() => registerMongo(container, pool, { bogus: 1 } as never)).message, 'unknown option `bogus`')
  assert.is(thrown(() => createMongoHandle(undefined as never)).option, 'pool')
  assert.is(thrown(() => createMongoHandle(pool, {} as never)).option, 'context')
  assert.is(thrown(() => createMongoHandle(pool, undefined, { collection: '' })).option, 'collection')
  // A default collection every later call would refuse is refused where it is given (before, only at request time).
  for (const name of ['events$', 'a\0b']) {
    const refused = thrown(() => registerMongo(createServiceContainer(), pool, { collection: name }))
    assert.is(refused.option, 'collection')
    assert.match(refused.message, 'a MongoDB collection name')
    assert.is(thrown(() => createMongoHandle(pool, undefined, { collection: name })).option, 'collection')
  }
  const handle = createMongoHandle(pool)
  const error = await rejects(handle.withTransaction(5 as never), InvalidOptionError)
  assert.match(error.message, 'Invalid options for withTransaction: expected `fn` to be a function')
  assert.is((await rejects(handle.withTransaction(async () => 1, 'majority' as never), InvalidOptionError)).option, 'options')
  // Names the driver would take (or throw its own error for), and the server refuse.
  for (const name of ['', 5, 'a$b', 'a\0b']) {
    assert.match(thrown(() => handle.collection(name as never)).message, 'Invalid options for MongoHandle.collection: expected `name` to be a MongoDB collection name')
    assert.is(thrown(() => pool.collection(name as never)).option, 'name')
  }
  // A lease is an admission slot: no server is needed to take one.
  const lease = await pool.acquire()
  assert.is(thrown(() => lease.collection('a$b')).option, 'name')
  assert.is(thrown(() => lease.db('a.b')).option, 'name')
  lease.release()
  for (const name of ['', 'a.b', 'a b', 'x'.repeat(64)]) {
    assert.match(thrown(() => handle.db(name)).message, 'Invalid options for MongoHandle.db: expected `name` to be a MongoDB database name')
    assert.is(thrown(() => pool.db(name)).option, 'name')
  }
  assert.is(pool.getPoolCounters().waitingRequests, 0)
  await handle.dispose()
})

BadInput.run()
