import { createServiceContainer, InvalidOptionError } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createPostgresHandle, createPostgresPool, Pool, registerPostgres, type PoolConfig, type PostgresPoolOptions } from '../src/index.js'
import { pgConfig, throwsError, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('createPostgresPool options')

function invalid(options: unknown): InvalidOptionError {
  try {
    createPostgresPool(options as PostgresPoolOptions)
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
    return error as InvalidOptionError
  }
  throw new Error('Expected createPostgresPool to throw')
}

test('requires a name', () => {
  assert.is(invalid({}).option, 'name')
  assert.match(invalid({ name: '' }).message, 'Invalid options for createPostgresPool: expected `name` to be a non-empty string of printable characters that is not a connection string (no `://`, `password=` or `user:password@`), at most 256 characters, none of them control, line-break, bidi or zero-width, got `""` (string).')
  assert.is(invalid(undefined).option, 'options')
})

test('a user, database, application name or pool name that holds credentials or control characters is refused, never shown whole', async () => {
  const secret = 'S3cretPW'
  const cases: [string, Record<string, unknown>][] = [
    ['user', { user: `app:${secret}` }],
    ['user', { user: `postgres://app:${secret}@db/orders` }],
    ['database', { database: `postgres://app:${secret}@db/orders` }],
    ['database', { database: `x password=${secret}` }],
    ['applicationName', { applicationName: `svc password=${secret}` }],
    ['name', { name: `orders password=${secret}` }],
    ['name', { name: `app:${secret}@db` }],
    ['user', { user: 'post\u0000gres' }],
    ['database', { database: 'te\nst' }],
    ['applicationName', { applicationName: 'a\u0000b' }],
    ['host', { host: `host=db password=${secret}` }],
    ['host', { host: 'local\nhost' }],
  ]
  for (const [option, given] of cases) {
    const error = invalid({ name: 'orders', host: '127.0.0.1', ...given })
    assert.is(error.option, option, JSON.stringify(given))
    assert.not.match(error.message, secret, `${option}: the message shows the password`)
  }
  // What stays taken: a user@server user (Azure), a database or application name with `@` or `:`.
  await createPostgresPool({ name: 'orders', host: '127.0.0.1', user: 'app@myserver', database: 'orders@eu', applicationName: 'api@prod' }).close()
})

test('the application name is sent as given: the server cuts one past 63 bytes and replaces characters outside printable ASCII, as pg lets it', async () => {
  for (const applicationName of ['x'.repeat(64), 'bestellungen-s\u00fcd']) await createPostgresPool({ name: 'orders', host: '127.0.0.1', applicationName }).close()
})

test('pg settings used as they are on the first query are checked when the pool is made: a stream and type parsers', () => {
  assert.is(invalid({ name: 'orders', pg: { stream: 5 } }).option, 'pg.stream')
  assert.is(invalid({ name: 'orders', pg: { types: 5 } }).option, 'pg.types')
  assert.is(throwsError(() => new Pool({ types: 5 } as never), InvalidOptionError, 'ERR_INVALID_OPTION').option, 'types')
})

test("the drop-in Pool takes any application_name pg takes (a URL), and names itself 'postgres' when it is no pool name", async () => {
  const pool = new Pool({ application_name: 'https://api.example.com' })
  assert.is(pool.name, 'postgres')
  await pool.end()
  assert.is(throwsError(() => new Pool({ application_name: 'svc password=S3cret' }), InvalidOptionError, 'ERR_INVALID_OPTION').option, 'application_name')
})

test("the drop-in Pool refuses a port pg would fail every connection with, and reads null as unset where pg-pool does", async () => {
  for (const port of ['abc', '0', 70000, -1, '5432x', 5432.5]) {
    const error = throwsError(() => new Pool({ host: '127.0.0.1', port } as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'port', String(port))
    assert.match(error.message, 'an integer between 1 and 65535')
  }
  // What pg reads as no port at all (PGPORT, else 5432) is taken too.
  for (const port of [5432, '5432', 0, Number.NaN, '', null]) await new Pool({ host: '127.0.0.1', port } as never).end()
  // Text that is no port is counted, not shown: a variable mixed up would print a password.
  const mixedUp = throwsError(() => new Pool({ host: '127.0.0.1', port: 'hunter2-prod' } as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(mixedUp.message, 'got a string of 12 characters.')
  // A list of ports goes with a list of hosts, also one from PGHOST.
  const saved = process.env['PGHOST']
  process.env['PGHOST'] = '127.0.0.1,localhost'
  try {
    await new Pool({ port: '5432,5432' } as never).end()
  } finally {
    if (saved === undefined) delete process.env['PGHOST']
    else process.env['PGHOST'] = saved
  }
  // pg-pool's `max || poolSize || 10`, `if (!connectionTimeoutMillis)`: null is unset, not an error.
  const pool = new Pool({ max: null, min: null, maxUses: null, maxLifetimeSeconds: null, connectionTimeoutMillis: null, poolSize: null } as never)
  assert.is(pool.options.max, 10)
  await pool.end()
  // And pg-pool's hooks, read as truthy: a YAML key left empty.
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('drop-in-null-hooks')
  const hooks = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, allowExitOnIdle: null, log: null, Client: null, Promise: null, onConnect: null, verify: null, max: 1 } as never)
  assert.equal((await hooks.query('SELECT 1 AS n')).rows, [{ n: 1 }])
  await hooks.end()
  await waitForConnectionCount(appName, 0)
})

test('tells a `@` pg reads (a query value, a database name after a user part) from a password a raw `/`, `?` or `#` cut short', async () => {
  const taken = [
    'postgres://postgres@127.0.0.1:5432/test?application_name=orders-api@prod',
    'postgres://127.0.0.1:5432/test?application_name=orders-api@prod',
    'postgres://postgres@127.0.0.1:5432/orders@eu',
    'postgres://127.0.0.1:5432/test?options=-c%20x.y%3Da@b',
    'postgres:///orders?host=/var/run/postgresql&user=me@corp',
    'postgres://localhost/orders?user=alice@corp.com&application_name=x',
    'postgres://[::1]/orders?application_name=a@b',
    'postgres://myadmin@myserver:pw@myserver.postgres.database.azure.com/orders',
  ]
  for (const connectionString of taken) {
    await createPostgresPool({ name: 'a', connectionString }).close()
    await new Pool({ connectionString }).end()
  }
  // Each would show a part of the password in the pool's target (as a host, a port or a database).
  const cut = [
    'postgres://app:2024/S3cretPw@db/orders',
    'postgres://app:99?S3cretPw@db/orders',
    'postgres://app:99#S3cretPw@db/orders',
    'postgres://app:2024?x=S3cretPw@db/orders',
    'postgres://app:2024/s=S3cretPw@db',
    'postgres://app:2024/s=S3cretPw@db:5432',
    'postgres://app:2024/S3cretPw=@db?sslmode=require',
    'postgres://app:/S3cretPw==@db',
    'postgres://app:?S3cretPw=@db',
    'postgres://app:p@ss/S3cretPw@db/orders',
    'postgres://app:p@ss?S3cretPw@db/orders',
    'postgres://app:2024/s=S3cretPw@[::1]/orders',
    'postgres://app:2024/s=S3cretPw@db.example.com:6432/orders',
  ]
  for (const connectionString of cut) {
    const error = invalid({ name: 'a', connectionString })
    assert.match(error.message, 'user part is cut short', connectionString)
    assert.not.match(error.message, 'S3cretPw')
  }
  // A host list in the URL does not parse: the message says where it goes.
  assert.match(invalid({ name: 'a', connectionString: 'postgres://app@db1:5432,db2:5432/orders' }).message, "several hosts go in `hosts` or `host: 'db1,db2'`")
})

test('shows an IPv6 host in brackets in the target, as a URL does', async () => {
  const pools = [
    createPostgresPool({ name: 'a', connectionString: 'postgres://app@[::1]:5432/orders' }),
    createPostgresPool({ name: 'b', host: '::1', user: 'app', database: 'orders' }),
    createPostgresPool({ name: 'c', hosts: [{ host: '2001:db8::5' }, { host: 'db2', port: 6432 }], user: 'app', database: 'orders' }),
  ]
  assert.equal(pools.map((pool) => pool.target), ['postgres://app@[::1]:5432/orders', 'postgres://app@[::1]:5432/orders', 'postgres://app@[2001:db8::5]:5432,db2:6432/orders'])
  for (const pool of pools) await pool.close()
})

test('refuses a connection string as the name (a DATABASE_URL passed by mistake), without quoting its password', () => {
  const error = invalid({ name: 'postgres://app:hunter2@db:5432/orders' })
  assert.is(error.option, 'name')
  assert.not.match(error.message, 'hunter2')
})

test('refuses a connection string or user:password@host as the host, without quoting its password: it would be the pool target', () => {
  for (const host of ['postgres://app:hunter2@db:5432/orders', 'app:hunter2@db']) {
    const error = invalid({ name: 'a', host })
    assert.is(error.option, 'host')
    assert.match(error.message, 'not a connection string')
    assert.not.match(error.message, 'hunter2')
    const listed = invalid({ name: 'a', hosts: [{ host: 'db1' }, { host }] })
    assert.is(listed.option, 'hosts[1].host')
    assert.not.match(listed.message, 'hunter2')
    const spread = invalid({ name: 'a', hosts: [{ host: 'db1', [host]: 1 }] })
    assert.not.match(spread.message, 'hunter2')
    assert.not.match(spread.option, 'hunter2')
    const dropIn = throwsError(() => new Pool({ host }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(dropIn.option, 'host')
    assert.not.match(dropIn.message, 'hunter2')
  }
  assert.not.throws(() => new Pool({ host: '/var/run/postgresql' }).end())
})

test('names the option, the value and the allowed range', () => {
  const error = invalid({ name: 'a', maxSize: 0 })
  assert.is(error.option, 'maxSize')
  assert.is(error.expected, 'an integer between 1 and 10000')
  assert.match(error.message, 'expected `maxSize` to be an integer between 1 and 10000, got `0` (number).')
  assert.match(invalid({ name: 'a', port: 70000 }).message, '`port` to be an integer between 1 and 65535, got `70000`')
  assert.match(invalid({ name: 'a', acquireTimeoutMillis: 1.5 }).message, '`acquireTimeoutMillis` to be an integer number of milliseconds between 1 and 2147483647')
  assert.match(invalid({ name: 'a', maxWaitingRequests: -1 }).message, '`maxWaitingRequests` to be an integer >= 0')
  assert.match(invalid({ name: 'a', idleTimeoutMillis: '10s' }).message, '`idleTimeoutMillis` to be an integer number of milliseconds between 0 and 2147483647, got `"10s"` (string)')
  assert.match(invalid({ name: 'a', leakDetectionMillis: null }).message, '`leakDetectionMillis`')
  assert.match(invalid({ name: 'a', events: 'loud' }).message, '`events` to be an object of listeners (`onConnect`')
})

test('refuses a pool size no server serves (2 ** 31 meant as no limit), where a warm-up would open that many at once', () => {
  for (const [options, option] of [[{ maxSize: 2 ** 31 }, 'maxSize'], [{ minSize: 10_001, maxSize: 10_000 }, 'minSize']] as const) {
    const error = invalid({ name: 'a', ...options })
    assert.is(error.option, option)
    assert.match(error.message, 'between')
    assert.match(error.message, '10000')
  }
  assert.is(throwsError(() => new Pool({ max: 2 ** 31 }), InvalidOptionError).option, 'max')
})

test('the drop-in Pool reads max (or poolSize) 0 as unset, as pg.Pool does: 10; createPostgresPool still refuses maxSize 0', async () => {
  for (const config of [{ max: 0 }, { poolSize: 0 }, { max: 0, poolSize: 4 }] as PoolConfig[]) {
    const theirs = new pg.Pool({ host: '127.0.0.1', port: 9, ...config })
    const ours = new Pool({ host: '127.0.0.1', port: 9, ...config })
    assert.is(ours.maxSize, theirs.options.max, JSON.stringify(config))
    assert.is(ours.options.max, theirs.options.max)
    await Promise.all([theirs.end(), ours.end()])
  }
  assert.is(throwsError(() => new Pool({ max: -1 }), InvalidOptionError).option, 'max')
  assert.is(invalid({ name: 'a', maxSize: 0 }).option, 'maxSize')
})

test('rejects unknown options, listing the known ones', () => {
  const error = invalid({ name: 'a', max: 5 })
  assert.is(error.option, 'max')
  assert.match(error.message, 'unknown option `max`. Known options: `name`, `connectionString`')
  assert.match(error.message, '`maxSize`')
})

test('rejects minSize above maxSize and a jitter not below the lifetime', () => {
  const sizes = invalid({ name: 'a', minSize: 5, maxSize: 2 })
  assert.is(sizes.option, 'minSize')
  assert.match(sizes.message, 'expected `minSize` to be an integer <= maxSize (2), got `5` (number).')
  assert.is(invalid({ name: 'a', maxLifetimeMillis: 1000, maxLifetimeJitterMillis: 1000 }).option, 'maxLifetimeJitterMillis')
  assert.is(invalid({ name: 'a', maxLifetimeJitterMillis: 10 }).option, 'maxLifetimeJitterMillis')
})

test('rejects pg settings that Lifeguard owns, naming the option to use', () => {
  const error = invalid({ name: 'a', pg: { max: 50 } })
  assert.is(error.option, 'pg.max')
  assert.match(error.message, '`pg.max` is managed by Lifeguard. Use `maxSize` instead.')
  assert.match(invalid({ name: 'a', pg: { connectionTimeoutMillis: 5 } }).message, 'Use `connectTimeoutMillis` instead.')
  assert.match(invalid({ name: 'a', pg: { password: 'x' } }).message, 'Use `password` instead.')
  // pg.Pool settings that would otherwise be taken and do nothing.
  assert.match(invalid({ name: 'a', pg: { poolSize: 3 } as never }).message, '`pg.poolSize` is managed by Lifeguard. Use `maxSize` instead.')
  assert.match(invalid({ name: 'a', pg: { log: () => {} } as never }).message, 'Use `events`')
  assert.is(invalid({ name: 'a', pg: { Promise } as never }).option, 'pg.Promise')
})

test('refuses every duration a timer cannot wait for (above 2^31-1 ms), naming it', () => {
  for (const option of ['acquireTimeoutMillis', 'connectTimeoutMillis', 'idleTimeoutMillis', 'maxLifetimeMillis', 'leakDetectionMillis', 'validateAfterIdleMillis']) {
    const error = invalid({ name: 'a', [option]: 2 ** 32 })
    assert.is(error.option, option)
    assert.match(error.message, 'between')
    assert.match(error.message, '2147483647, got `4294967296` (number)')
  }
})

test('refuses listener maps with unknown keys or values that are not functions, naming the key', () => {
  const typo = invalid({ name: 'a', events: { onErorr: () => undefined } })
  assert.is(typo.option, 'events.onErorr')
  assert.match(typo.message, 'unknown listener `events.onErorr`. Known listeners: `onConnect`')
  const notAFunction = invalid({ name: 'a', events: { onError: 5 } })
  assert.is(notAFunction.option, 'events.onError')
  assert.match(notAFunction.message, 'expected `events.onError` to be a function')
  assert.is(invalid({ name: 'a', events: [{ onLeak: () => undefined }, { onLek: () => undefined }] }).option, 'events[1].onLek')
  assert.is(invalid({ name: 'a', events: ['x'] }).option, 'events[0]')
})

test('never echoes a password or connection string of the wrong shape', () => {
  const password = invalid({ name: 'a', password: 123456789 })
  assert.is(password.option, 'password')
  assert.not.match(password.message, '123456789')
  assert.match(password.message, 'expected `password` to be a string or a function, got a number.')
  const connectionString = invalid({ name: 'a', connectionString: '' })
  assert.match(connectionString.message, '`<redacted>` (string)')
})

test('refuses a connection string pg would misread or cannot parse, at once and without showing it', async () => {
  // libpq's key=value form: pg would read the whole string as a database name on a host named `base`.
  const keyValue = invalid({ name: 'a', connectionString: 'host=127.0.0.1 user=postgres password=S3cretPw dbname=test' })
  assert.is(keyValue.option, 'connectionString')
  assert.match(keyValue.message, 'expected `connectionString` to be a PostgreSQL URL (postgres://')
  assert.match(keyValue.message, 'pg reads no key=value strings')
  assert.is(invalid({ name: 'a', connectionString: 'localhost:5432/test' }).option, 'connectionString')
  // Every checkout would fail with "Invalid URL" until the acquire timeout.
  const unparsed = invalid({ name: 'a', connectionString: 'postgres://app:S3cretPw@[::1:5432/test' })
  assert.match(unparsed.message, 'a URL that does not parse (a port is 1 to 65535; several hosts go in')
  // A raw `/` or `?` that pg reads as a port and a path, or as a query: the password would be in the target.
  // (After a `?`, a `=` before the `@` reads as a query's value, which pg takes, `?application_name=api@eu`,
  // unless a host and a path follow the `@`.)
  const cut = [invalid({ name: 'a', connectionString: 'postgres://app:2024/S3cretPw@db/orders' }), invalid({ name: 'a', connectionString: 'postgres://app:99?S3cretPw@db/orders' }), invalid({ name: 'a', connectionString: 'postgres://app:2024?x=S3cretPw@db/orders' }), invalid({ name: 'a', connectionString: 'postgres://app:2024#tok=S3cretPw@db/orders' })]
  for (const error of cut) assert.match(error.message, 'a URL whose user part is cut short (in a password, `/`, `?` and `#` must be percent-encoded)')
  for (const error of [keyValue, unparsed, ...cut]) {
    assert.not.match(error.message, 'S3cretPw')
    assert.not.match(error.stack ?? '', 'S3cretPw')
  }
  // A file the URL names that cannot be read is named, with what went wrong.
  assert.match(invalid({ name: 'a', connectionString: 'postgres://u@db/orders?sslrootcert=/nonexistent/ca.pem' }).message, 'a URL naming what pg could not use (ENOENT /nonexistent/ca.pem)')
  // What pg does read is accepted: URLs of any scheme, a socket URL and a socket folder.
  for (const connectionString of ['postgresql://u@db.internal/orders', 'POSTGRES://u@db/orders', 'redshift://u@db/orders', 'socket:/var/run/postgresql?db=orders', '/var/run/postgresql orders']) {
    const pool = createPostgresPool({ name: 'a', connectionString })
    assert.match(pool.target, /orders$/)
    await pool.close()
  }
})

test('refuses pg.Pool hooks of the wrong type under `pg`, naming them', async () => {
  assert.match(invalid({ name: 'a', pg: { Client: 5 } }).message, 'expected `pg.Client` to be a class like pg.Client (a function `new` can call: not an arrow or async function, nor a method), got `5` (number).')
  // Functions that `new` cannot construct, or that build no client: each checkout would fail until its timeout.
  const notClasses = [(config: unknown) => new pg.Client(config as pg.ClientConfig), async () => undefined, { method() {} }.method]
  for (const Client of notClasses) assert.is(invalid({ name: 'a', pg: { Client } }).option, 'pg.Client')
  // A plain function that builds a client is constructible: `new` takes the object it returns.
  await createPostgresPool({ name: 'a', pg: { Client: function OwnTypes(config: pg.ClientConfig) { return new pg.Client(config) } as never } }).close()
  assert.is(throwsError(() => new Pool({ Client: notClasses[0] } as never), InvalidOptionError, 'ERR_INVALID_OPTION').option, 'Client')
  assert.is(invalid({ name: 'a', pg: { onConnect: 'x' } }).option, 'pg.onConnect')
  assert.is(invalid({ name: 'a', pg: { verify: {} } }).option, 'pg.verify')
  assert.match(invalid({ name: 'a', pg: { allowExitOnIdle: 'yes' } }).message, 'expected `pg.allowExitOnIdle` to be a boolean')
  assert.match(invalid({ name: 'a', pg: { maxUses: -1 } }).message, 'expected `pg.maxUses` to be an integer >= 0 or Infinity (0: no limit), got `-1` (number)')
  assert.match(invalid({ name: 'a', pg: [] }).message, 'expected `pg` to be an object of pg.Client and pg.Pool settings, got an array.')
})

test('refuses server timeouts pg would misread when connecting (parseInt): every connection refused, 5s read as 5 ms', () => {
  for (const key of ['statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout']) {
    for (const bad of ['5s', -1, Infinity, 1.5, 2 ** 31, {}, Symbol('x')]) {
      const error = invalid({ name: 'a', pg: { [key]: bad } })
      assert.is(error.option, `pg.${key}`)
      assert.match(error.message, 'an integer number of milliseconds between 0 and 2147483647')
      assert.is(throwsError(() => new Pool({ [key]: bad } as PoolConfig), InvalidOptionError, 'ERR_INVALID_OPTION').option, key)
    }
    for (const off of [0, false, null, 5000]) assert.not.throws(() => createPostgresPool({ name: 'a', pg: { [key]: off } }).close())
  }
  assert.is(invalid({ name: 'a', pg: { keepAliveInitialDelayMillis: Symbol('x') } }).option, 'pg.keepAliveInitialDelayMillis')
})

test('registerPostgres and createPostgresHandle check their arguments when given, not on first use', async () => {
  const pool = createPostgresPool({ name: 'a' })
  const container = createServiceContainer()
  const optionOf = (fn: () => unknown): string => {
    try {
      fn()
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      return (error as InvalidOptionError).option
    }
    throw new Error('accepted')
  }
  assert.is(optionOf(() => registerPostgres(container, undefined as never)), 'pool')
  assert.is(optionOf(() => registerPostgres(container, {} as never)), 'pool')
  assert.is(optionOf(() => registerPostgres(undefined as never, pool)), 'container')
  assert.is(optionOf(() => registerPostgres(container, pool, { nmae: 'x' } as never)), 'nmae')
  assert.is(optionOf(() => createPostgresHandle(null as never)), 'pool')
  assert.is(optionOf(() => createPostgresHandle(pool, {} as never)), 'context')
  await pool.close()
})

test('uses the Client class given in pg options, as pg.Pool does', async () => {
  let constructed = 0
  const { default: pg } = await import('pg')
  class CountingClient extends pg.Client {
    constructor(config: object) {
      super(config)
      constructed++
    }
  }
  const { pool, appName } = testPool('options-client', { pg: { Client: CountingClient as never } })
  await pool.query('SELECT 1')
  assert.is(constructed, 1)
  await closeAndCheck(pool, appName)
})

test('applies the documented defaults and passes other pg settings through', async () => {
  const { pool, appName } = testPool('options-defaults', { pg: { statement_timeout: 1234 } })
  const metrics = pool.getPoolMetrics()
  assert.is(metrics.minSize, 0)
  assert.is(metrics.maxSize, 10)
  assert.is(pool.kind, 'postgres')
  assert.is(pool.state, 'created')
  const { rows } = await pool.query<{ statement_timeout: string }>('SHOW statement_timeout')
  assert.is(rows[0]?.statement_timeout, '1234ms')
  await closeAndCheck(pool, appName)
})

test.run()
