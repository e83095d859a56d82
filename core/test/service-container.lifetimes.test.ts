import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ResolutionError, ServiceContainer, ServiceScope, createServiceContainer } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

class Counter {
  static created = 0
  readonly id = ++Counter.created
}

const lifetimes = suite('ServiceContainer lifetimes')

lifetimes('a singleton is created once, on first resolve, and shared by every scope', async () => {
  let created = 0
  const container = createServiceContainer().singleton('config', () => ({ id: ++created }))
  assert.instance(container, ServiceContainer)
  assert.is(created, 0)
  const a = container.createScope()
  const b = container.createScope()
  const config = a.resolve('config')
  assert.is(created, 1)
  assert.is(b.resolve('config'), config)
  assert.is(container.resolve('config'), config)
  await container.dispose()
})

lifetimes('a scoped service is created once per scope', async () => {
  const container = createServiceContainer().scoped('unitOfWork', () => new Counter())
  const a = container.createScope()
  const b = container.createScope()
  assert.instance(a, ServiceScope)
  const first = a.resolve('unitOfWork')
  assert.is(a.resolve('unitOfWork'), first)
  assert.is.not(b.resolve('unitOfWork'), first)
  await container.dispose()
})

lifetimes('a transient service is new on every resolve', async () => {
  const container = createServiceContainer().transient('command', () => new Counter())
  const scope = container.createScope()
  assert.is.not(scope.resolve('command'), scope.resolve('command'))
  await container.dispose()
})

lifetimes('a value is returned as is, from the root and every scope', async () => {
  const settings = { region: 'eu-west-1' }
  const container = createServiceContainer().value('settings', settings).value('retries', 0)
  assert.is(container.resolve('settings'), settings)
  assert.is(container.createScope().resolve('settings'), settings)
  assert.is(container.resolve('retries'), 0)
  await container.dispose()
})

lifetimes('factories resolve their dependencies through the resolver, across lifetimes', async () => {
  const container = createServiceContainer()
    .value('dsn', 'postgres://app@db/orders')
    .singleton('db', (r) => ({ dsn: r.resolve('dsn') }))
    .scoped('repo', (r) => ({ db: r.resolve('db'), uow: r.resolve('uow') }))
    .scoped('uow', () => new Counter())
    .transient('handler', (r) => ({ repo: r.resolve('repo') }))
  const scope = container.createScope()
  const handler = scope.resolve('handler')
  assert.is(handler.repo, scope.resolve('repo'))
  assert.is(handler.repo.db, container.resolve('db'))
  assert.is(handler.repo.uow, scope.resolve('uow'))
  assert.is(handler.repo.db.dsn, 'postgres://app@db/orders')
  await container.dispose()
})

lifetimes('the resolver names the scope an instance is created in (the root for singletons)', async () => {
  const container = createServiceContainer()
    .singleton('single', (r) => ({ scope: r.scope }))
    .scoped('perRequest', (r) => ({ scope: r.scope }))
  const scope = container.createScope()
  assert.is(scope.resolve('perRequest').scope, scope)
  assert.is(scope.resolve('single').scope, container)
  assert.is(scope.container, container)
  assert.is(container.container, container)
  await container.dispose()
})

lifetimes('scopes are isolated: what one scope creates or provides is invisible to another', async () => {
  const container = createServiceContainer().scoped('cart', () => ({ items: [] as string[] }))
  const alice = container.createScope().provide('user', 'alice')
  const bob = container.createScope().provide('user', 'bob')
  alice.resolve('cart').items.push('book')
  assert.equal(bob.resolve('cart').items, [])
  assert.is(alice.resolve('user'), 'alice')
  assert.is(bob.resolve('user'), 'bob')
  await container.dispose()
})

lifetimes('a provided value is visible to the scoped factories of that scope', async () => {
  const container = createServiceContainer().scoped('greeting', (r) => `hello ${String(r.resolve('user'))}`)
  const scope = container.createScope().provide('user', 'alice')
  assert.is(scope.resolve('greeting'), 'hello alice')
  await container.dispose()
})

lifetimes('a scoped service is resolved from a scope only: from the root it would live as long as the container', async () => {
  const container = createServiceContainer()
    .scoped('unitOfWork', () => ({}))
    .singleton('reports', (r) => ({ unitOfWork: r.scope.resolve('unitOfWork') }))
  for (const resolve of [() => container.resolve('unitOfWork'), () => container.resolve('reports')]) {
    const error = throwsError(resolve, ResolutionError, 'ERR_RESOLUTION')
    assert.is(error.reason, 'lifetime')
    assert.match(error.message, "Could not resolve 'unitOfWork'. It is scoped: resolve it from a scope (`container.createScope()`), not from the root container.")
  }
  const scope = container.createScope()
  assert.ok(scope.resolve('unitOfWork'))
  await container.dispose()
})

lifetimes("a singleton asking for 'operationContext' is told it exists in an operation's scope only", async () => {
  const container = createServiceContainer().singleton('audit', (r) => ({ context: r.resolve('operationContext' as never) }))
  const error = throwsError(() => container.createScope().resolve('audit'), ResolutionError, 'ERR_RESOLUTION')
  assert.match(error.message, "Could not resolve 'operationContext'. It is provided in an operation's own scope only; a singleton has none.")
  await container.dispose()
})

lifetimes('has and names list the registrations in order', () => {
  const container = createServiceContainer().value('a', 1).singleton('b', () => 2).scoped('c', () => 3).transient('d', () => 4)
  assert.equal(container.names(), ['a', 'b', 'c', 'd'])
  assert.ok(container.has('c'))
  assert.not.ok(container.has('e'))
})

lifetimes('a factory may return a falsy value, which is cached like any other', async () => {
  let calls = 0
  const container = createServiceContainer().scoped('nothing', () => {
    calls++
    return undefined
  })
  const scope = container.createScope()
  assert.is(scope.resolve('nothing'), undefined)
  assert.is(scope.resolve('nothing'), undefined)
  assert.is(calls, 1)
  await container.dispose()
})

lifetimes.run()
