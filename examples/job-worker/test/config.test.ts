import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../src/config.js'

const Config = suite('job-worker config')

Config("builds the database URL from libpq's settings when DATABASE_URL is unset: names encoded, IPv6 in brackets", () => {
  assert.is(loadConfig({}).databaseUrl, 'postgres://postgres@127.0.0.1:5432/test')
  assert.is(loadConfig({ PGHOST: '::1', PGUSER: 'app user', PGDATABASE: 'orders/eu' }).databaseUrl, 'postgres://app%20user@[::1]:5432/orders%2Feu')
  assert.is(loadConfig({ DATABASE_URL: 'postgres://app@db:5432/billing', PGHOST: 'ignored' }).databaseUrl, 'postgres://app@db:5432/billing')
})

Config('a URL that does not parse is refused by what the user set, never echoed', () => {
  // A socket directory as PGHOST gives no URL: said in the name of the PG* settings, not of DATABASE_URL.
  assert.throws(() => loadConfig({ PGHOST: '/var/run/postgresql' }), (error: Error) => error.message.startsWith('The URL built from PGUSER, PGHOST, PGPORT and PGDATABASE is not a valid URL'))
  assert.throws(() => loadConfig({ DATABASE_URL: 'db:5432 s3cret' }), (error: Error) => error.message.startsWith('DATABASE_URL is not a valid URL') && !error.message.includes('s3cret'))
})

Config.run()
