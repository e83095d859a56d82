import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool, createPostgresPool, type PoolConfig, type PostgresPoolOptions } from '../src/index.js'

const test = suite('hosts, targetSessionAttrs and pooler options (both faces)')

function invalid(create: () => unknown): InvalidOptionError {
  try {
    create()
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    return error as InvalidOptionError
  }
  throw new Error('Expected the pool constructor to throw')
}
const lifeguard = (options: Partial<PostgresPoolOptions>) => invalid(() => createPostgresPool({ name: 'routing', ...options } as PostgresPoolOptions))
const pgStyle = (config: Record<string, unknown>) => invalid(() => new Pool(config as PoolConfig))

test('hosts must be a non-empty list of { host, port? }, each entry checked by name', () => {
  assert.match(lifeguard({ hosts: [] }).message, 'expected `hosts` to be a non-empty array of { host, port? }, got an array.')
  assert.is(lifeguard({ hosts: [{ host: '' }] }).option, 'hosts[0].host')
  const port = lifeguard({ hosts: [{ host: 'a' }, { host: 'b', port: 70000 }] })
  assert.is(port.option, 'hosts[1].port')
  assert.match(port.message, 'expected `hosts[1].port` to be an integer between 1 and 65535, got `70000` (number).')
  assert.match(lifeguard({ hosts: [{ host: 'a', prot: 1 } as never] }).message, 'unknown option `hosts[0].prot`. Known options: `host`, `port`.')
  assert.is(pgStyle({ hosts: [{ host: 'a', port: '5432' }] }).option, 'hosts[0].port')
})

test('hosts cannot be combined with host, port or a connection string (whose host would win), and never shows the string', () => {
  assert.is(lifeguard({ hosts: [{ host: 'a' }], host: 'b' }).option, 'host')
  const error = lifeguard({ hosts: [{ host: 'a' }], connectionString: 'postgres://app:s3cret@db/orders' })
  assert.is(error.option, 'connectionString')
  assert.match(error.message, '`connectionString` cannot be combined with `hosts`')
  assert.not.match(error.message, 's3cret')
  assert.is(pgStyle({ hosts: [{ host: 'a' }], port: 5432 }).option, 'port')
  assert.not.match(pgStyle({ host: 'a,b', connectionString: 'postgres://app:s3cret@db/orders' }).message, 's3cret')
})

test("the pg.Pool face takes libpq's comma-separated host list, with one port or as many ports", () => {
  const one = new Pool({ host: 'db1,db2', port: 6432, user: 'app', database: 'orders' })
  assert.is(one.target, 'postgres://app@db1:6432,db2:6432/orders')
  const many = new Pool({ host: 'db1, db2', port: '5432,5433' as unknown as number, user: 'app', database: 'orders' })
  assert.is(many.target, 'postgres://app@db1:5432,db2:5433/orders')
  const mismatch = pgStyle({ host: 'db1,db2,db3', port: '5432,5433' })
  assert.is(mismatch.option, 'port')
  assert.match(mismatch.message, 'a port, or a comma-separated list of 3 ports')
  assert.is(pgStyle({ host: 'db1,,db2' }).option, 'host')
})

test("createPostgresPool takes libpq's comma-separated host too (one port for all)", () => {
  const pool = createPostgresPool({ name: 'routing', host: 'db1,db2', port: 6432, user: 'app', database: 'orders' })
  assert.is(pool.target, 'postgres://app@db1:6432,db2:6432/orders')
  assert.is(lifeguard({ host: 'db1,db2', connectionString: 'postgres://app@db/orders' }).option, 'connectionString')
})

test('the target shows every host, as libpq writes a multi-host URI', () => {
  const pool = createPostgresPool({ name: 'routing', hosts: [{ host: 'db1', port: 5432 }, { host: 'db2', port: 5433 }], user: 'app', database: 'orders' })
  assert.is(pool.target, 'postgres://app@db1:5432,db2:5433/orders')
})

test('targetSessionAttrs is one of libpq’s values', () => {
  const error = lifeguard({ targetSessionAttrs: 'master' as never })
  assert.is(error.option, 'targetSessionAttrs')
  assert.match(error.message, "one of `any`, `read-write`, `read-only`, `primary`, `standby`, `prefer-standby`, got `\"master\"` (string).")
  assert.is(pgStyle({ targetSessionAttrs: 'readwrite' }).option, 'targetSessionAttrs')
})

test('pooler is the PgBouncer transaction mode, as a string or with namedPreparedStatements', () => {
  createPostgresPool({ name: 'routing', pooler: 'pgbouncer-transaction' })
  createPostgresPool({ name: 'routing', pooler: { type: 'pgbouncer-transaction', namedPreparedStatements: true } })
  assert.is(lifeguard({ pooler: 'pgbouncer' as never }).option, 'pooler')
  assert.is(lifeguard({ pooler: { type: 'pgbouncer-transaction', namedPreparedStatements: 'yes' } as never }).option, 'pooler')
  assert.is(pgStyle({ pooler: { type: 'pgbouncer-transaction', extra: 1 } }).option, 'pooler')
})

test('behind PgBouncer, startup parameters PgBouncer rejects are refused at construction, each named', () => {
  const error = lifeguard({ pooler: 'pgbouncer-transaction', pg: { statement_timeout: 5000, lock_timeout: 1000 } })
  assert.is(error.option, 'pg.statement_timeout')
  assert.match(error.message, 'Invalid options for createPostgresPool: `pg.statement_timeout`, `pg.lock_timeout` are sent as startup parameters, which PgBouncer rejects')
  assert.match(error.message, '`SET LOCAL` inside transaction()')
  const options = pgStyle({ pooler: 'pgbouncer-transaction', options: '-c search_path=app' })
  assert.is(options.option, 'options')
  const fromUrl = lifeguard({ pooler: 'pgbouncer-transaction', connectionString: 'postgres://app@db/orders?statement_timeout=100' })
  assert.match(fromUrl.message, '`statement_timeout` (from the connection string or a PG* environment variable) is sent as a startup parameter')
  // Without the option nothing is refused: PgBouncer itself would answer at connect time.
  createPostgresPool({ name: 'routing', pg: { statement_timeout: 5000 } })
  // What PgBouncer accepts passes: application_name, client_encoding; client-side query_timeout.
  createPostgresPool({ name: 'routing', pooler: 'pgbouncer-transaction', applicationName: 'orders-api', pg: { client_encoding: 'UTF8', query_timeout: 1000 } })
})

test.run()
