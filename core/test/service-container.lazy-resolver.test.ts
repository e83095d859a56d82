import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ResolutionError, createServiceContainer, type ServiceResolver } from '../src/index.js'
import { throwsError, rejects } from '@lifeguard/test-kit'
import { deferred } from './_helpers/async.js'

// A factory may keep its resolver for a lookup it makes later: the usual way to break a construction-time cycle.
const lazy = suite('ServiceContainer resolvers kept for a lazy lookup')

interface Lazy {
  b(): { a: unknown }
}

lazy('a lookup after the factory returned finds the cached instance it depends on: no false cycle', () => {
  const container = createServiceContainer()
    .scoped('a', (r: ServiceResolver) => ({ b: () => r.resolve('b') }))
    .scoped('b', (r: ServiceResolver) => ({ a: r.resolve('a') }))
  const scope = container.createScope()
  const a = scope.resolve('a') as Lazy
  const b = a.b()
  assert.is(b.a, a)
  assert.is(scope.resolve('b'), b, 'b is cached in the scope as usual')
})

lazy('the same for a transient, which is never cached', () => {
  const container = createServiceContainer()
    .transient('a', (r: ServiceResolver) => ({ b: () => r.resolve('b') }))
    .scoped('b', (r: ServiceResolver) => ({ a: r.resolve('a') }))
  const scope = container.createScope()
  const a = scope.resolve('a') as Lazy
  const b = a.b()
  assert.ok(b.a !== a, 'b got a transient of its own')
})

lazy('the same for a singleton, and its lookups still refuse a scoped service', () => {
  const container = createServiceContainer()
    .singleton('a', (r: ServiceResolver) => ({ b: () => r.resolve('b'), request: () => r.resolve('request') }))
    .singleton('b', (r: ServiceResolver) => ({ a: r.resolve('a') }))
    .scoped('request', () => ({}))
  const a = container.createScope().resolve('a') as Lazy & { request(): unknown }
  assert.is(a.b().a, a)
  const error = throwsError(() => a.request(), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'lifetime')
})

lazy('a lookup after an async factory settled is no cycle either', async () => {
  const container = createServiceContainer()
    .scoped('a', async (r: ServiceResolver) => {
      await Promise.resolve()
      return { b: () => r.resolve('b') }
    })
    .scoped('b', async (r: ServiceResolver) => ({ a: await r.resolve('a') }))
  const scope = container.createScope()
  const a = (await scope.resolve('a')) as { b(): Promise<{ a: unknown }> }
  assert.is((await a.b()).a, a)
})

lazy('a lazy lookup made while the service it leads back to is being built is still a cycle, not a stack overflow', () => {
  const container = createServiceContainer()
    .scoped('a', (r: ServiceResolver) => ({ b: () => r.resolve('b') }))
    // b asks a for b while b is being built: b needs itself.
    .scoped('b', (r: ServiceResolver) => ({ viaA: (r.resolve('a') as Lazy).b() }))
  const error = throwsError(() => container.createScope().resolve('b'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['b', 'b'])
  assert.match(error.message, "Could not resolve 'b'. It depends on itself.")
})

lazy('an async factory that uses its resolver after an await, before it settled, still finds a cycle', async () => {
  const gate = deferred()
  const container = createServiceContainer()
    .scoped('a', async (r: ServiceResolver) => {
      await gate.promise
      return { b: await r.resolve('b') }
    })
    .scoped('b', async (r: ServiceResolver) => ({ a: await r.resolve('a') }))
  const scope = container.createScope()
  const pending = scope.resolve('a') as Promise<unknown>
  gate.resolve()
  const error = await rejects(pending, ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['a', 'b', 'a'])
})

lazy.run()
