import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, PoolNotFoundError, PoolRegistry, RegistrationError, createPoolRegistry } from '../src/index.js'
import { FakePool } from './_helpers/fake-pool.js'
import { throwsError } from '@lifeguard/test-kit'

const lookup = suite('PoolRegistry register and lookup')

lookup('registers pools and finds them by name, in registration order', () => {
  const registry = createPoolRegistry()
  assert.instance(registry, PoolRegistry)
  const orders = new FakePool('orders')
  const users = new FakePool('users', { kind: 'mongodb' })
  assert.is(registry.register(orders), orders)
  registry.register(users)
  assert.is(registry.get('orders'), orders)
  assert.is(registry.get('users'), users)
  assert.ok(registry.has('orders'))
  assert.not.ok(registry.has('billing'))
  assert.equal(registry.names(), ['orders', 'users'])
  assert.equal(registry.pools(), [orders, users])
})

lookup('gives typed access to the pools it was declared with', () => {
  const registry = createPoolRegistry<{ orders: FakePool }>()
  registry.register(new FakePool('orders'))
  // Typed as FakePool without a cast: `calls` exists only on the fake.
  assert.equal(registry.get('orders').calls.warmup, [])
})

lookup('rejects a second pool under a taken name with RegistrationError', () => {
  const registry = createPoolRegistry()
  const first = new FakePool('orders')
  registry.register(first)
  const error = throwsError(() => registry.register(new FakePool('orders')), RegistrationError, 'ERR_REGISTRATION')
  assert.is(error.message, "Could not register pool 'orders'. A pool with that name is already registered.")
  assert.is(registry.get('orders'), first)
})

lookup('rejects something that is not a pool with InvalidOptionError', () => {
  const registry = createPoolRegistry()
  for (const bad of [undefined, null, { name: 'orders' }, 'orders']) {
    const error = throwsError(() => registry.register(bad as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'pool')
    assert.match(error.message, 'expected `pool` to be a ManagedPool')
  }
  assert.equal(registry.names(), [])
})

lookup('a connection string asked for as a name is shown redacted, and a long name cut, by PoolNotFoundError', () => {
  const registry = createPoolRegistry()
  const error = throwsError(() => registry.get('postgres://app:S3cretPW@db/orders'), PoolNotFoundError, 'ERR_POOL_NOT_FOUND')
  assert.not.match(error.message, 'S3cretPW')
  assert.not.match(String(error.pool), 'S3cretPW')
  assert.ok(throwsError(() => registry.get('x'.repeat(100_000)), PoolNotFoundError).message.length < 400)
})

lookup('a name from a request that would break a log line is shown escaped by PoolNotFoundError', () => {
  const registry = createPoolRegistry()
  // A tenant's pool looked up by a decoded path segment: %0A, %E2%80%A8, %E2%80%AE.
  for (const [name, shown] of [
    ['acme\nlevel=error msg=forged', 'acme\\u000alevel=error msg=forged'],
    ['acme\u2028forged', 'acme\\u2028forged'],
    ['acme\u202egrof', 'acme\\u202egrof'],
  ]) {
    const error = throwsError(() => registry.get(name!), PoolNotFoundError, 'ERR_POOL_NOT_FOUND')
    assert.is(error.pool, shown)
    assert.is(error.message, `Could not find pool '${shown}'. Known pools: (none).`)
  }
})

lookup('an unknown name throws PoolNotFoundError listing the known names', () => {
  const registry = createPoolRegistry()
  assert.match(throwsError(() => registry.get('orders'), PoolNotFoundError, 'ERR_POOL_NOT_FOUND').message, 'Known pools: (none).')
  registry.register(new FakePool('orders'))
  registry.register(new FakePool('users'))
  const error = throwsError(() => registry.get('ordres'), PoolNotFoundError, 'ERR_POOL_NOT_FOUND')
  assert.is(error.pool, 'ordres')
  assert.is(error.message, "Could not find pool 'ordres'. Known pools: 'orders', 'users'.")
})

lookup('refuses a pool whose name is empty with InvalidOptionError naming pool.name', () => {
  const registry = createPoolRegistry()
  // A pool of the user's own (FakePool's monitor would refuse the name first).
  const unnamed = { name: '', kind: 'toy', target: 'toy://', state: 'created', events: { on: () => () => {} }, warmup: async () => undefined, resize() {}, getPoolMetrics: () => undefined, close: async () => undefined }
  const error = throwsError(() => registry.register(unnamed as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'pool.name')
  assert.is(error.message, 'Invalid options for registry.register: expected `pool.name` to be a non-empty string of printable characters that is not a connection string (no `://`, `password=` or `user:password@`), at most 256 characters, none of them control, line-break, bidi or zero-width, got `""` (string).')
  assert.equal(registry.names(), [])
})

lookup('refuses a pool name a log viewer would misread (a line or paragraph separator, a bidi or zero-width character, a lone surrogate) or one past 256 characters', () => {
  for (const name of ['orders\u2028[ERROR] forged', 'orders\u0085', 'orders\u202e', 'ord\u200bers', 'orders\ud800', 'x'.repeat(257)]) {
    const error = throwsError(() => new FakePool(name), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'name', JSON.stringify(name).slice(0, 40))
    assert.not.match(error.message, '\u2028')
  }
  assert.is(new FakePool('x'.repeat(256)).name.length, 256)
  assert.is(new FakePool('tenant 42 — orders (eu)').name, 'tenant 42 — orders (eu)')
  // The zero-width non-joiner and joiner spell Persian and Indic words (and emoji): taken.
  assert.is(new FakePool('\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645').name.length, 8)
  assert.is(new FakePool('team \u{1f469}\u200d\u{1f4bb}').name, 'team \u{1f469}\u200d\u{1f4bb}')
})

lookup('refuses a connection string as a pool name (it would carry its password into every event and metric), without quoting the password', () => {
  const registry = createPoolRegistry()
  const named = { name: 'postgres://app:hunter2@db:5432/orders', kind: 'toy', target: 'toy://', state: 'created', events: { on: () => () => {} }, warmup: async () => undefined, resize() {}, getPoolMetrics: () => undefined, close: async () => undefined }
  const error = throwsError(() => registry.register(named as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'pool.name')
  assert.is(error.message, 'Invalid options for registry.register: expected `pool.name` to be a non-empty string of printable characters that is not a connection string (no `://`, `password=` or `user:password@`), at most 256 characters, none of them control, line-break, bidi or zero-width, got `"postgres://app:***@db:5432/orders"` (string).')
  // The monitor every Lifeguard pool is built on refuses it too.
  const monitored = throwsError(() => new FakePool('postgres://app:hunter2@db:5432/orders'), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(monitored.option, 'name')
  assert.not.match(monitored.message, 'hunter2')
  assert.equal(registry.names(), [])
})

lookup('get() of a name that is not a string is an InvalidOptionError, not a TypeError', () => {
  const registry = createPoolRegistry()
  registry.register(new FakePool('orders'))
  for (const [name, shown] of [
    [Symbol('orders'), '`Symbol(orders)` (symbol)'],
    [undefined, '`undefined` (undefined)'],
  ] as const) {
    const error = throwsError(() => registry.get(name as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'name')
    assert.is(error.message, `Invalid options for registry.get: expected \`name\` to be a string, got ${shown}.`)
  }
})

lookup('two registries in one process are independent', async () => {
  const a = createPoolRegistry()
  const b = createPoolRegistry()
  const ordersA = a.register(new FakePool('orders'))
  const ordersB = b.register(new FakePool('orders'))
  assert.is(a.get('orders'), ordersA)
  assert.is(b.get('orders'), ordersB)
  b.register(new FakePool('users'))
  assert.not.ok(a.has('users'))
  await a.close()
  assert.equal(a.names(), [])
  assert.equal(b.names(), ['orders', 'users'])
  assert.is(ordersB.state, 'created')
  await b.close()
})

lookup.run()
