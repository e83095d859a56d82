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
})

Config('refuses a malformed MONGODB_URI and PORT by name', () => {
  assert.throws(() => loadConfig({ MONGODB_URI: 'localhost:27017' }), /^MONGODB_URI is not a valid URL: expected mongodb:\/\//)
  assert.throws(() => loadConfig({ PORT: '-1' }), /Expected PORT to be an integer >= 0, got '-1'/)
})

Config.run()
