import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import pg from 'pg'
import { loadConfig } from '../src/config.js'

// What pg reads from a connection string (nothing connects).
const readBack = (connectionString: string): Record<string, unknown> => {
  const { user, host, database } = new pg.Client({ connectionString })
  return { user, host, database }
}

const Config = suite('job-worker config')

Config("builds the database URL from libpq's settings when DATABASE_URL is unset: names encoded, IPv6 in brackets", () => {
  assert.is(loadConfig({}).databaseUrl, 'postgres://postgres@127.0.0.1:5432/test')
  const url = loadConfig({ PGHOST: '::1', PGUSER: 'app@eu', PGDATABASE: 'orders eu/1' }).databaseUrl
  assert.is(url, 'postgres://app%40eu@[::1]:5432/orders%20eu/1')
  // What pg reads back from it.
  assert.equal(readBack(url), { user: 'app@eu', host: '::1', database: 'orders eu/1' })
  assert.throws(() => loadConfig({ PGDATABASE: 'orders#1' }), /PGDATABASE holds '\?', '#' or '%'/)
  assert.is(loadConfig({ DATABASE_URL: 'postgres://app@db:5432/billing', PGHOST: 'ignored' }).databaseUrl, 'postgres://app@db:5432/billing')
})

Config('a URL that does not parse is refused by what the user set, never echoed', () => {
  // A socket directory as PGHOST gives no URL: said in the name of the PG* settings, not of DATABASE_URL.
  assert.throws(() => loadConfig({ PGHOST: '/var/run/postgresql' }), (error: Error) => error.message.startsWith('The URL built from PGUSER, PGHOST, PGPORT and PGDATABASE is not a valid URL'))
  assert.throws(() => loadConfig({ DATABASE_URL: 'db:5432 s3cret' }), (error: Error) => error.message.startsWith('DATABASE_URL is not a valid URL') && !error.message.includes('s3cret'))
})

Config('numbers are digits within their range, refused by name otherwise', () => {
  assert.throws(() => loadConfig({ CONCURRENCY: '0x10' }), /Expected CONCURRENCY to be an integer from 1 to 1000, got '0x10'/)
  assert.throws(() => loadConfig({ CONCURRENCY: '1001' }), /Expected CONCURRENCY to be an integer from 1 to 1000/)
  // Number(' ') is 0: a blank is no drain time.
  assert.throws(() => loadConfig({ DRAIN_MILLIS: ' ' }), /Expected DRAIN_MILLIS to be an integer from 0 to 18000, got ' '/)
  assert.is(loadConfig({ CONCURRENCY: '8' }).concurrency, 8)
})

Config.run()
