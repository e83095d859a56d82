import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DisposedError, ResolutionError, createServiceContainer } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const resolution = suite('ServiceContainer resolution errors')

resolution('an unknown name is a ResolutionError listing the registered names', () => {
  const container = createServiceContainer().value('config', {}).singleton('db', () => ({}))
  const error = throwsError(() => container.resolve('dbb'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'unknown')
  assert.equal(error.path, ['dbb'])
  assert.is(error.message, "Could not resolve 'dbb'. No service is registered under that name. Registered: 'config', 'db'.\nResolution path: dbb")
  assert.match(throwsError(() => createServiceContainer().resolve('x'), ResolutionError).message, 'Registered: (none).')
})

resolution('an unknown dependency shows the full path to it', () => {
  const container = createServiceContainer()
    .scoped('userService', (r) => ({ repo: r.resolve('userRepo') }))
    .scoped('userRepo', (r) => ({ db: r.resolve('database') }))
  const scope = container.createScope().provide('request', {})
  const error = throwsError(() => scope.resolve('userService'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'unknown')
  assert.equal(error.path, ['userService', 'userRepo', 'database'])
  assert.match(error.message, 'Resolution path: userService -> userRepo -> database')
})

resolution('a value provided as undefined resolves to undefined, first provided or not', () => {
  const container = createServiceContainer()
  assert.is(container.createScope().provide('maybe', undefined).resolve('maybe'), undefined)
  assert.is(container.createScope().provide('request', {}).provide('maybe', undefined).resolve('maybe'), undefined)
})

resolution('a synchronous cycle is a ResolutionError with the path around the cycle', () => {
  const container = createServiceContainer()
    .scoped('a', (r) => ({ b: r.resolve('b') }))
    .scoped('b', (r) => ({ c: r.resolve('c') }))
    .scoped('c', (r) => ({ a: r.resolve('a') }))
  const error = throwsError(() => container.createScope().resolve('a'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['a', 'b', 'c', 'a'])
  assert.is(error.message, "Could not resolve 'a'. It depends on itself.\nResolution path: a -> b -> c -> a")
})

resolution('a transient that resolves itself is a cycle, not a stack overflow', () => {
  const container = createServiceContainer().transient('self', (r) => ({ again: r.resolve('self') }))
  const error = throwsError(() => container.resolve('self'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['self', 'self'])
})

resolution('a cycle through a singleton is found from a scope too', () => {
  const container = createServiceContainer()
    .singleton('cache', (r) => ({ loader: r.resolve('loader') }))
    .singleton('loader', (r) => ({ cache: r.resolve('cache') }))
  const error = throwsError(() => container.createScope().resolve('cache'), ResolutionError)
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['cache', 'loader', 'cache'])
})

resolution('a singleton that depends on a scoped service is a lifetime ResolutionError', () => {
  const container = createServiceContainer()
    .singleton('cache', (r) => ({ user: r.resolve('currentUser') }))
    .scoped('currentUser', () => ({ id: 1 }))
  for (const from of [container, container.createScope()]) {
    const error = throwsError(() => from.resolve('cache'), ResolutionError, 'ERR_RESOLUTION')
    assert.is(error.reason, 'lifetime')
    assert.equal(error.path, ['cache', 'currentUser'])
    assert.is(error.message, "Could not resolve 'currentUser'. It is scoped, and a singleton cannot depend on a scoped service.\nResolution path: cache -> currentUser")
  }
})

resolution('a singleton cannot reach a scoped service through a transient either', () => {
  const container = createServiceContainer()
    .singleton('cache', (r) => ({ helper: r.resolve('helper') }))
    .transient('helper', (r) => ({ user: r.resolve('currentUser') }))
    .scoped('currentUser', () => ({ id: 1 }))
  const error = throwsError(() => container.createScope().resolve('cache'), ResolutionError)
  assert.is(error.reason, 'lifetime')
  assert.equal(error.path, ['cache', 'helper', 'currentUser'])
})

resolution('a scoped service may depend on singletons, scoped and transient services', () => {
  const container = createServiceContainer()
    .singleton('pool', () => 'pool')
    .transient('clock', () => 'clock')
    .scoped('uow', () => 'uow')
    .scoped('repo', (r) => [r.resolve('pool'), r.resolve('clock'), r.resolve('uow')])
  assert.equal(container.createScope().resolve('repo'), ['pool', 'clock', 'uow'])
})

resolution("a factory's error that quotes a connection string: the ResolutionError's message and cause leave its password out", () => {
  const failure = new Error('could not reach postgres://app:s3cret-pw@db/orders')
  const container = createServiceContainer().singleton('db', () => {
    throw failure
  })
  const error = throwsError(() => container.createScope().resolve('db'), ResolutionError, 'ERR_RESOLUTION')
  // Before: quoted as it was, into what HTTP adapters and loggers pass on.
  assert.not.match(error.message, 's3cret-pw')
  assert.match(error.message, "Its factory failed: could not reach postgres://app:***@db/orders")
  // A redacted copy (loggers print the cause chain), of the same class; an error with no secret is kept as it is.
  assert.instance(error.cause, Error)
  assert.is((error.cause as Error).message, 'could not reach postgres://app:***@db/orders')
  assert.is.not(error.cause, failure)
})

resolution('a throwing factory is a ResolutionError with its error as the cause', () => {
  const failure = new Error('missing DATABASE_URL')
  const container = createServiceContainer()
    .singleton('config', () => {
      throw failure
    })
    .scoped('repo', (r) => ({ config: r.resolve('config') }))
  const error = throwsError(() => container.createScope().resolve('repo'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'factory')
  assert.is(error.cause, failure)
  assert.equal(error.path, ['repo', 'config'])
  assert.is(error.message, "Could not resolve 'config'. Its factory failed: missing DATABASE_URL\nResolution path: repo -> config")
})

resolution('a factory pending when its scope is disposed still resolves its dependencies; a new resolve is refused with its name', async () => {
  const container = createServiceContainer()
    .scoped('late', async (r) => {
      await new Promise((resolve) => setImmediate(resolve))
      return r.resolve('dep')
    })
    .scoped('dep', () => 'dep')
  const scope = container.createScope()
  const pending = scope.resolve('late') as Promise<unknown>
  const disposing = scope.dispose()
  // The scope waits for it: refusing its dependency would leak what it opened before its first await.
  assert.is(await pending, 'dep')
  const error = throwsError(() => scope.resolve('dep'), DisposedError, 'ERR_DISPOSED')
  assert.equal(error.path, ['dep'])
  await disposing
  await container.dispose()
})

resolution.run()
