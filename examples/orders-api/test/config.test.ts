import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../src/config.js'

const Config = suite('loadConfig')

Config('reads the defaults from an empty environment', () => {
  assert.equal(loadConfig({}), {
    host: '127.0.0.1',
    port: 3000,
    databaseUrl: undefined,
    mongodbUri: undefined,
    schema: 'orders_api',
    applicationName: 'orders-api',
    shutdownTimeoutMillis: 10_000,
  })
})

Config('refuses a DATABASE_URL that is not a PostgreSQL URL, by name and without echoing it', () => {
  for (const value of ['not-a-url', 'mysql://root:s3cret@db/orders', 'postgres://']) {
    try {
      loadConfig({ DATABASE_URL: value })
      assert.unreachable(`accepted ${value}`)
    } catch (error) {
      assert.instance(error, Error)
      assert.is((error as Error).message, 'DATABASE_URL is not a valid URL: expected postgres://user:password@host:5432/database.')
    }
  }
  assert.is(loadConfig({ DATABASE_URL: 'postgresql://app:s3cret@db:5432/orders' }).databaseUrl, 'postgresql://app:s3cret@db:5432/orders')
  // An '@' in the password, unencoded: pg (as a WHATWG URL) takes the last one as the separator.
  assert.is(loadConfig({ DATABASE_URL: 'postgres://app:p@ss@db:5432/orders' }).databaseUrl, 'postgres://app:p@ss@db:5432/orders')
})

Config('refuses a malformed MONGODB_URI and PORT by name', () => {
  assert.throws(() => loadConfig({ MONGODB_URI: 'localhost:27017' }), /^MONGODB_URI is not a valid URL: expected mongodb:\/\//)
  assert.throws(() => loadConfig({ MONGODB_URI: 'mongodb://' }), /^MONGODB_URI is not a valid URL/)
  // A replica set's seed list is no WHATWG URL, and is what the driver expects.
  const seedList = 'mongodb://app:s3cret@h1:27017,h2:27017/orders?replicaSet=rs0'
  assert.is(loadConfig({ MONGODB_URI: seedList }).mongodbUri, seedList)
  assert.throws(() => loadConfig({ PORT: '-1' }), /Expected PORT to be an integer from 0 to 65535, got '-1'/)
  assert.throws(() => loadConfig({ PORT: '65536' }), /Expected PORT to be an integer from 0 to 65535, got '65536'/)
  // Digits only: Number() reads these as 8080 and 1000.
  assert.throws(() => loadConfig({ PORT: '0x1F90' }), /Expected PORT to be an integer from 0 to 65535, got '0x1F90'/)
  assert.throws(() => loadConfig({ SHUTDOWN_TIMEOUT_MILLIS: '1e3' }), /Expected SHUTDOWN_TIMEOUT_MILLIS to be an integer/)
})

Config('a blank HOST is unset, as every variable: the service keeps to the loopback interface', () => {
  assert.is(loadConfig({ HOST: '' }).host, '127.0.0.1')
  assert.is(loadConfig({ HOST: '  ' }).host, '127.0.0.1')
  assert.is(loadConfig({ HOST: '0.0.0.0' }).host, '0.0.0.0')
})

Config('refuses a shutdown timeout past what a timer can wait, and an APP_NAME the database would refuse or show', () => {
  // Twice it overflowed Node's longest timer: the shutdown's deadline fired at once.
  assert.throws(() => loadConfig({ SHUTDOWN_TIMEOUT_MILLIS: '1100000000' }), /Expected SHUTDOWN_TIMEOUT_MILLIS to be an integer from 0 to 1000000000/)
  // A carriage return from a `.env` written on Windows; credentials, which are never echoed.
  for (const name of ['orders-api\r', 'svc:s3cret@db', 'x'.repeat(64)]) {
    assert.throws(() => loadConfig({ APP_NAME: name }), (error: Error) => error.message === "Expected APP_NAME to be up to 63 printable ASCII characters without ':' or '@'.", JSON.stringify(name))
  }
  assert.is(loadConfig({ APP_NAME: 'orders-api-blue' }).applicationName, 'orders-api-blue')
})

Config.run()
