import { inspect } from 'node:util'
import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoPool, type MongoPool, type MongoPoolOptions } from '../src/index.js'

const Options = suite<{ pools: MongoPool[] }>('createMongoPool options', { pools: [] })

Options.after.each(async (context) => {
  await Promise.all(context.pools.splice(0).map((pool) => pool.close()))
})

function invalid(options: unknown): InvalidOptionError {
  try {
    createMongoPool(options as MongoPoolOptions)
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
    return error as InvalidOptionError
  }
  assert.unreachable(`accepted ${JSON.stringify(options)}`)
  throw new Error('unreachable')
}

const uri = 'mongodb://127.0.0.1:27017'

Options('bad options throw InvalidOptionError naming the option, the value and the allowed range', () => {
  assert.match(invalid({ uri }).message, 'Invalid options for createMongoPool: expected `name` to be a non-empty string of printable characters that is not a connection string (no `://`, `password=` or `user:password@`), at most 256 characters, none of them control, line-break, bidi or zero-width, got `undefined` (undefined).')
  assert.match(invalid({ name: 'orders', uri, maxSize: 0 }).message, 'expected `maxSize` to be an integer between 1 and 10000, got `0` (number)')
  assert.match(invalid({ name: 'orders', uri, acquireTimeoutMillis: 1.5 }).message, '`acquireTimeoutMillis` to be an integer number of milliseconds between 1 and 2147483647')
  assert.match(invalid({ name: 'orders', uri, minSize: 5, maxSize: 4 }).message, 'expected `minSize` to be an integer <= `maxSize` (4), got `5`')
  assert.match(invalid({ name: 'orders', uri, maxSize: 20, maxSizeLimit: 10 }).message, 'expected `maxSizeLimit` to be an integer >= `maxSize` (20), got `10`')
  assert.match(invalid({ name: 'orders', uri, events: 'nope' }).message, '`events` to be an object')
  assert.match(invalid({ name: 'orders', uri, clock: { now: () => 0 } }).message, 'expected `clock` to be a Clock (an object with `now`, `setTimeout` and `clearTimeout` functions)')
  const unknown = invalid({ name: 'orders', uri, maxPoolSize: 5 })
  assert.is(unknown.option, 'maxPoolSize')
  assert.match(unknown.message, 'unknown option `maxPoolSize`. Known options: `name`, `uri`')
})

Options('driver options Lifeguard owns are refused in clientOptions, with the option to use instead', () => {
  const error = invalid({ name: 'orders', uri, clientOptions: { maxPoolSize: 50 } })
  assert.is(error.option, 'clientOptions.maxPoolSize')
  assert.match(error.message, 'expected `clientOptions.maxPoolSize` to be left out (Lifeguard sets it from `maxSize` and `maxSizeLimit`), got `50`')
  assert.match(invalid({ name: 'orders', uri, clientOptions: { minPoolSize: 1 } }).message, 'from `minSize`')
  assert.match(invalid({ name: 'orders', uri, clientOptions: { maxIdleTimeMS: 1 } }).message, 'from `maxIdleTimeMillis`')
  assert.match(invalid({ name: 'orders', uri, clientOptions: { appName: 'x' } }).message, 'from `appName`')
  // The driver reads option names regardless of case: so does the check.
  assert.is(invalid({ name: 'orders', uri, clientOptions: { maxpoolsize: 2 } as never }).option, 'clientOptions.maxpoolsize')
  assert.is(invalid({ name: 'orders', uri, clientOptions: { MAXIDLETIMEMS: 1 } as never }).option, 'clientOptions.MAXIDLETIMEMS')
})

Options('pool settings in the connection string are refused too, without showing it; its appName is taken', () => {
  for (const [query, key] of [['maxPoolSize=2', 'maxPoolSize'], ['w=1&minpoolsize=3', 'minpoolsize'], ['maxIdleTimeMS=1', 'maxIdleTimeMS'], ['authMechanismProperties=A:b?c&maxPoolSize=5', 'maxPoolSize']]) {
    const error = invalid({ name: 'orders', uri: `mongodb://app:pw-s3cret@db/orders?${query}` })
    assert.is(error.option, 'uri')
    assert.match(error.message, `expected \`uri\` to be a connection string without \`${key}\``)
    assert.not.match(error.message, 's3cret')
  }
  const pool = createMongoPool({ name: 'orders', uri: 'mongodb://db/orders?appName=orders-api' })
  assert.is(pool.client.options.appName, 'orders-api')
  return pool.close()
})

Options('an unparsable uri is an InvalidOptionError that never shows the password', () => {
  for (const bad of ['mongodb://app:pw-s3cret@db:notaport/orders', 'http://app:pw-s3cret@db/orders', 'mongodb://app:pw-s3cret@db/orders?bogusOption=1']) {
    const error = invalid({ name: 'orders', uri: bad })
    assert.is(error.option, 'uri')
    assert.match(error.message, 'expected `uri` to be a valid MongoDB connection string. The driver says:')
    assert.not.match(inspect(error), 'pw-s3cret')
  }
  assert.match(invalid({ name: 'orders', uri: '' }).message, 'expected `uri` to be a non-empty string, got `<redacted>` (string)')
})

Options('a password written raw (a `@` or `/` in it) shows no piece of itself in the error', () => {
  for (const bad of ['mongodb://user:a@b:Sup3rS3cretPw/z@db.example.com:27017/orders', 'mongodb://user:pass@w:ordXYZ9@db/orders']) {
    const error = invalid({ name: 'orders', uri: bad })
    assert.is(error.option, 'uri')
    assert.match(error.message, 'must be percent-encoded')
    for (const piece of ['Sup3rS3cretPw', 'ordXYZ9']) assert.not.match(inspect(error), piece)
  }
})

Options('driver options the driver takes but cannot live with are refused, named under clientOptions', () => {
  const nan = invalid({ name: 'orders', uri, clientOptions: { maxConnecting: Number.NaN } })
  assert.is(nan.option, 'clientOptions.maxConnecting')
  assert.match(nan.message, 'expected `clientOptions.maxConnecting` to be an integer >= 1, got `NaN` (number)')
  const heartbeat = invalid({ name: 'orders', uri, clientOptions: { heartbeatFrequencyMS: 0 } })
  assert.is(heartbeat.option, 'clientOptions.heartbeatFrequencyMS')
  assert.match(heartbeat.message, 'an integer number of milliseconds between 500 and 2147483647, got `0`')
  assert.is(invalid({ name: 'orders', uri: `${uri}/?heartbeatFrequencyMS=10` }).option, 'heartbeatFrequencyMS')
  assert.match(invalid({ name: 'orders', uri, clientOptions: { zlibCompressionLevel: Number.POSITIVE_INFINITY } }).message, 'expected `clientOptions.zlibCompressionLevel` to be a finite number')
  // What the driver itself refuses is blamed on clientOptions, not on the connection string.
  const refused = invalid({ name: 'orders', uri, clientOptions: { readPreference: 'bogus' } as never })
  assert.is(refused.option, 'clientOptions')
  assert.match(refused.message, 'expected `clientOptions` to be options the MongoDB driver accepts. The driver says:')
})

Options('target shows user, hosts and database, never the password or the query string', (context) => {
  const pool = createMongoPool({ name: 'orders', uri: 'mongodb://app:pw-s3cret@db1:27017,db2:27018/shop?replicaSet=rs0&authSource=admin' })
  context.pools.push(pool)
  assert.is(pool.target, 'mongodb://app@db1:27017,db2:27018/shop')
  assert.is(pool.dbName, 'shop')
  assert.equal([pool.kind, pool.state, pool.minSize, pool.maxSize, pool.maxSizeLimit], ['mongodb', 'created', 0, 10, 100])
  assert.not.match(inspect(pool.getPoolMetrics()), 'pw-s3cret')

  const plain = createMongoPool({ name: 'plain', uri, dbName: 'orders', maxSize: 150 })
  context.pools.push(plain)
  assert.is(plain.target, 'mongodb://127.0.0.1:27017/orders')
  assert.is(plain.maxSizeLimit, 150)
})

Options('the driver gets maxSizeLimit as maxPoolSize, maxIdleTimeMillis, no minimum of its own, and the appName', (context) => {
  const pool = createMongoPool({ name: 'orders', uri, minSize: 2, maxSize: 5, maxSizeLimit: 40, maxIdleTimeMillis: 2500, clientOptions: { heartbeatFrequencyMS: 700 } })
  context.pools.push(pool)
  const driver = pool.client.options
  assert.equal([driver.maxPoolSize, driver.minPoolSize, driver.maxIdleTimeMS, driver.heartbeatFrequencyMS, driver.appName], [40, 0, 2500, 700, 'orders'])
  const named = createMongoPool({ name: 'orders', uri: `${uri}/?appName=from-uri` })
  context.pools.push(named)
  assert.is(named.client.options.appName, 'from-uri')
})

Options('a pool name longer than an appName may be is cut where a character ends for the default appName', (context) => {
  const pool = createMongoPool({ name: `${'x'.repeat(127)}é-and-more`, uri })
  context.pools.push(pool)
  assert.is(pool.client.options.appName, 'x'.repeat(127))
  assert.is(pool.name, `${'x'.repeat(127)}é-and-more`)
})

Options.run()
