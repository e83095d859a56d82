import { inspect } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DisposedError, OperationContext, createServiceContainer, DisposeFailedError } from '../src/index.js'
import { deferred, isPending, sleep, turn } from './_helpers/async.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

const dispose = suite('ServiceContainer dispose')

dispose('a scope disposes what it created in reverse creation order', async () => {
  const log: string[] = []
  const track = (name: string) => ({ dispose: () => void log.push(name) })
  const container = createServiceContainer()
    .scoped('db', () => 'db', track('db'))
    .scoped('repo', (r) => `repo(${String(r.resolve('db'))})`, track('repo'))
    .scoped('service', (r) => `service(${String(r.resolve('repo'))})`, track('service'))
    .scoped('audit', () => 'audit', track('audit'))
  const scope = container.createScope()
  scope.resolve('audit')
  scope.resolve('service')
  await scope.dispose()
  // db was created first (as a dependency), audit before all of them.
  assert.equal(log, ['service', 'repo', 'db', 'audit'])
  await container.dispose()
})

dispose('each disposer gets its instance and is awaited before the next one runs', async () => {
  const log: string[] = []
  const container = createServiceContainer()
    .scoped('first', () => ({ name: 'first' }), {
      dispose: (instance) => void log.push(`dispose ${instance.name}`),
    })
    .scoped('second', () => ({ name: 'second' }), {
      dispose: async (instance) => {
        log.push(`start ${instance.name}`)
        await sleep(10)
        log.push(`end ${instance.name}`)
      },
    })
  const scope = container.createScope()
  scope.resolve('first')
  scope.resolve('second')
  await scope.dispose()
  assert.equal(log, ['start second', 'end second', 'dispose first'])
  await container.dispose()
})

dispose('instances with Symbol.asyncDispose or Symbol.dispose are disposed without a disposer option', async () => {
  const log: string[] = []
  class Session {
    async [Symbol.asyncDispose](): Promise<void> {
      await turn()
      log.push('session')
    }
  }
  class Cursor {
    [Symbol.dispose](): void {
      log.push('cursor')
    }
  }
  class Both {
    async [Symbol.asyncDispose](): Promise<void> {
      log.push('both: async preferred')
    }
    [Symbol.dispose](): void {
      log.push('both: sync')
    }
  }
  const container = createServiceContainer()
    .scoped('session', () => new Session())
    .scoped('cursor', () => new Cursor())
    .scoped('both', () => new Both())
    .scoped('plain', () => ({ close: () => log.push('plain must not be closed') }))
  const scope = container.createScope()
  for (const name of ['session', 'cursor', 'both', 'plain']) scope.resolve(name)
  await scope.dispose()
  assert.equal(log, ['both: async preferred', 'cursor', 'session'])
  await container.dispose()
})

dispose("a disposer returning what its client's close returns is awaited: redis.quit() resolves 'OK'", async () => {
  const closing = deferred<'OK'>()
  const redisLike = { quit: () => closing.promise }
  const container = createServiceContainer().singleton('redis', () => redisLike, { dispose: (redis) => redis.quit() })
  container.resolve('redis')
  const disposing = container.dispose()
  await turn()
  assert.ok(await isPending(disposing), 'waits for the promise it returned')
  closing.resolve('OK')
  await disposing
})

dispose('an alias of a scoped service leaves it to the registration that created it: disposed once', async () => {
  const closed: string[] = []
  const container = createServiceContainer()
    .scoped('db', () => ({ [Symbol.dispose]: () => void closed.push('db') }))
    .scoped('dbAlias', (r) => r.resolve('db'))
    .transient('dbCommand', (r) => r.resolve('db'))
    .scoped('dbLater', async (r) => r.resolve('db'))
  const scope = container.createScope()
  scope.resolve('dbAlias')
  scope.resolve('dbCommand')
  scope.resolve('dbCommand')
  await scope.resolve('dbLater')
  await scope.dispose()
  assert.equal(closed, ['db'], 'a client released four times would throw')
  await container.dispose()
})

dispose('a singleton that hands out a value or another singleton leaves it to its owner', async () => {
  const closed: string[] = []
  const disposable = (name: string) => ({ [Symbol.dispose]: () => void closed.push(name) })
  const container = createServiceContainer()
    .value('config', disposable('config'))
    .singleton('cache', () => disposable('cache'))
    .singleton('configAlias', (r) => r.resolve('config'))
    .singleton('cacheAlias', (r) => r.resolve('cache'))
  container.resolve('configAlias')
  container.resolve('cacheAlias')
  await container.dispose()
  assert.equal(closed, ['cache'], 'the value never, the singleton once')
})

dispose("a scoped or transient alias of a value or a singleton leaves it to its owner: it is not disposed per scope", async () => {
  let closes = 0
  const shared = () => ({ [Symbol.asyncDispose]: async () => void closes++ })
  const pool = shared()
  const container = createServiceContainer()
    .value('pool', pool)
    .singleton('cache', shared)
    .scoped('db', (r) => r.resolve('pool'))
    .transient('cacheAlias', (r) => r.resolve('cache'))
  for (let request = 0; request < 3; request++) {
    const scope = container.createScope()
    assert.is(scope.resolve('db'), pool)
    scope.resolve('cacheAlias')
    scope.resolve('cacheAlias')
    await scope.dispose()
  }
  assert.is(closes, 0, 'neither the value nor the singleton closed by a request')
  await container.dispose()
  assert.is(closes, 1, 'the singleton once, by its container; the value never')
})

dispose('a singleton first resolved inside an operation does not keep that operation as its context', async () => {
  const seen: (OperationContext | undefined)[] = []
  const container = createServiceContainer().singleton('flusher', () => {
    seen.push(OperationContext.tryCurrent())
    return { flushed: Promise.resolve().then(() => void seen.push(OperationContext.tryCurrent())) }
  })
  const operation = OperationContext.create('api', 'GET /', { container })
  await operation.run(async () => {
    await container.resolve('flusher').flushed
    assert.ok(OperationContext.tryCurrent() === operation, 'the caller keeps its own')
  })
  assert.equal(seen, [undefined, undefined])
  await operation.dispose()
  await container.dispose()
})

dispose('an async service is disposed after a service created while it was pending that holds its promise', async () => {
  const log: string[] = []
  const container = createServiceContainer()
    .scoped('connection', async () => {
      await turn()
      return { [Symbol.asyncDispose]: async () => void log.push('connection') }
    })
    // Created at once, holding the connection's promise; its disposer uses the connection.
    .scoped('repository', (r) => {
      const connection = r.resolve('connection')
      return { [Symbol.asyncDispose]: async () => void log.push((await connection) ? 'repository' : '?') }
    })
  const scope = container.createScope()
  scope.resolve('repository')
  await scope.resolve('connection')
  await scope.dispose()
  assert.equal(log, ['repository', 'connection'], 'reverse creation order: the connection started first')
  await container.dispose()
})

dispose('an async service with nothing to dispose leaves its scope disposed on the spot', async () => {
  const container = createServiceContainer().scoped('settings', async () => ({ region: 'eu' }))
  const scope = container.createScope()
  await scope.resolve('settings')
  const disposing = scope.dispose()
  assert.not.ok(await isPending(disposing))
  await container.dispose()
})

dispose('an explicit disposer replaces Symbol.asyncDispose', async () => {
  const log: string[] = []
  const container = createServiceContainer().scoped(
    'session',
    () => ({
      [Symbol.asyncDispose]: async () => void log.push('symbol'),
    }),
    { dispose: () => void log.push('option') },
  )
  container.createScope().resolve('session')
  await container.dispose()
  assert.equal(log, ['option'])
})

dispose('transients are disposed with the scope that created them; values never', async () => {
  const log: string[] = []
  let n = 0
  const value = { [Symbol.dispose]: () => void log.push('value') }
  const container = createServiceContainer()
    .transient('command', () => ++n, { dispose: (id) => void log.push(`command ${id}`) })
    .value('shared', value)
  const scope = container.createScope()
  scope.resolve('command')
  scope.resolve('command')
  scope.resolve('shared')
  await scope.dispose()
  assert.equal(log, ['command 2', 'command 1'])
  await container.dispose()
  assert.equal(log, ['command 2', 'command 1'])
})

dispose('disposer failures are collected into one DisposeFailedError (an AggregateError with a code) after every disposer ran', async () => {
  const log: string[] = []
  const container = createServiceContainer()
    .scoped('a', () => 'a', { dispose: () => void log.push('a') })
    .scoped('b', () => 'b', {
      dispose: () => {
        throw new Error('b failed')
      },
    })
    .scoped('c', () => 'c', { dispose: () => Promise.reject(new Error('c failed')) })
  const scope = container.createScope()
  for (const name of ['a', 'b', 'c']) scope.resolve(name)
  const error = await rejects(scope.dispose(), DisposeFailedError, 'ERR_DISPOSE_FAILED')
  assert.instance(error, AggregateError)
  assert.is(error.name, 'DisposeFailedError')
  assert.is(error.message, 'Could not dispose all services. 2 disposer(s) failed.')
  assert.equal(
    error.errors.map((e: Error) => e.message),
    ['c failed', 'b failed'],
  )
  assert.equal(log, ['a'])
  await container.dispose()
})

dispose("a disposer's failure is redacted before anyone sees it: no password, same class and code", async () => {
  class ConnectionError extends Error {
    readonly code = 'ECONNRESET'
  }
  const container = createServiceContainer()
    .singleton('client', () => 'client', { dispose: () => Promise.reject(new ConnectionError('could not end postgres://u:secret@h/db')) })
    .scoped('session', () => 'session', {
      dispose: () => {
        throw new Error('could not close postgres://u:secret@h/db')
      },
    })
  container.resolve('client')
  const scope = container.createScope()
  scope.resolve('session')
  const scopeError = await rejects(scope.dispose(), DisposeFailedError, 'ERR_DISPOSE_FAILED')
  assert.is((scopeError.errors[0] as Error).message, 'could not close postgres://u:***@h/db')
  const error = await rejects(container.dispose(), DisposeFailedError, 'ERR_DISPOSE_FAILED')
  const clientError = error.errors[0] as ConnectionError
  assert.instance(clientError, ConnectionError)
  assert.is(clientError.code, 'ECONNRESET')
  assert.is(clientError.message, 'could not end postgres://u:***@h/db')
  // What a logger prints: the stack quotes the message too.
  assert.not.match(inspect(error), 'secret')
})

dispose('dispose is idempotent: disposers run once and every call gets the same outcome', async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('x', () => 'x', { dispose: () => void disposed++ })
  const scope = container.createScope()
  scope.resolve('x')
  const first = scope.dispose()
  const second = scope.dispose()
  assert.is(first, second)
  await first
  await scope.dispose()
  assert.is(disposed, 1)
  assert.ok(scope.disposed)
  await container.dispose()
  await container.dispose()
})

dispose('a failed dispose stays failed on the next call, without running disposers again', async () => {
  let calls = 0
  const container = createServiceContainer().scoped('x', () => 'x', {
    dispose: () => {
      calls++
      throw new Error('boom')
    },
  })
  const scope = container.createScope()
  scope.resolve('x')
  const first = await rejects(scope.dispose(), AggregateError)
  const second = await rejects(scope.dispose(), AggregateError)
  assert.is(first, second)
  assert.is(calls, 1)
  await container.dispose()
})

dispose('container.dispose disposes open child scopes first, then the singletons', async () => {
  const log: string[] = []
  const container = createServiceContainer()
    .singleton('pool', () => 'pool', { dispose: () => void log.push('singleton pool') })
    .scoped('handle', (r) => `${String(r.resolve('pool'))} handle`, { dispose: (h) => void log.push(`scoped ${h}`) })
  const a = container.createScope()
  const b = container.createScope()
  a.resolve('handle')
  b.resolve('handle')
  assert.is(container.openScopes, 2)
  await container.dispose()
  assert.equal(log, ['scoped pool handle', 'scoped pool handle', 'singleton pool'])
  assert.ok(a.disposed)
  assert.ok(b.disposed)
  assert.is(container.openScopes, 0)
})

dispose('container.dispose disposes the scopes still open newest first, whichever closed before', async () => {
  const log: string[] = []
  const container = createServiceContainer().scoped('name', (r) => r.resolve('label'), { dispose: (name) => void log.push(String(name)) })
  const scopes = ['a', 'b', 'c', 'd', 'e'].map((label) => container.createScope().provide('label', label))
  for (const scope of scopes) scope.resolve('name')
  // Closed out of order: the middle, the newest, the oldest.
  await scopes[2]!.dispose()
  await scopes[4]!.dispose()
  await scopes[0]!.dispose()
  assert.is(container.openScopes, 2)
  await scopes[2]!.dispose() // twice: still counted once
  assert.is(container.openScopes, 2)
  await container.dispose()
  assert.equal(log, ['c', 'e', 'a', 'd', 'b'])
  assert.is(container.openScopes, 0)
})

dispose('a disposed scope is no longer counted as open', async () => {
  const container = createServiceContainer()
  const scope = container.createScope()
  container.createScope()
  assert.is(container.openScopes, 2)
  await scope.dispose()
  assert.is(container.openScopes, 1)
  await container.dispose()
  assert.is(container.openScopes, 0)
})

dispose('child scope failures are part of the container AggregateError', async () => {
  const container = createServiceContainer().scoped('x', () => 'x', {
    dispose: () => {
      throw new Error('child failed')
    },
  })
  container.createScope().resolve('x')
  const error = await rejects(container.dispose(), AggregateError)
  const [inner] = error.errors as AggregateError[]
  assert.instance(inner, AggregateError)
  assert.is((inner?.errors[0] as Error).message, 'child failed')
})

dispose('a scope its owner is disposing already is waited for; its failure goes to the owner alone', async () => {
  const releasing = deferred()
  const released = deferred()
  const container = createServiceContainer().scoped('conn', () => 'conn', {
    dispose: () => {
      releasing.resolve()
      return released.promise
    },
  })
  const scope = container.createScope()
  scope.resolve('conn')
  const owners = rejects(scope.dispose(), AggregateError)
  await releasing.promise
  const shutdown = container.dispose()
  assert.ok(await isPending(shutdown))
  released.reject(new Error('could not release connection'))
  await shutdown
  assert.is(((await owners).errors[0] as Error).message, 'could not release connection')
  assert.is(container.openScopes, 0)
})

dispose('an instance whose async factory finishes during dispose is still disposed', async () => {
  const log: string[] = []
  const gate = deferred()
  const container = createServiceContainer().scoped(
    'slow',
    async () => {
      await gate.promise
      return 'slow'
    },
    { dispose: (instance) => void log.push(`disposed ${instance}`) },
  )
  const scope = container.createScope()
  const pending = scope.resolve('slow')
  const disposing = scope.dispose()
  assert.ok(await isPending(disposing))
  gate.resolve()
  await disposing
  assert.is(await pending, 'slow')
  assert.equal(log, ['disposed slow'])
  await container.dispose()
})

dispose('a disposed scope or container refuses further use with DisposedError', async () => {
  const container = createServiceContainer().scoped('repo', () => ({}))
  const scope = container.createScope()
  await scope.dispose()
  const error = throwsError(() => scope.resolve('repo'), DisposedError, 'ERR_DISPOSED')
  assert.equal(error.path, ['repo'])
  assert.is(error.message, "Could not resolve 'repo'. The scope is disposed.\nResolution path: repo")
  throwsError(() => scope.provide('user', 'alice'), DisposedError, 'ERR_DISPOSED')
  await container.dispose()
  assert.match(throwsError(() => container.createScope(), DisposedError, 'ERR_DISPOSED').message, 'Could not create a scope. The container is disposed.')
  assert.match(throwsError(() => container.value('late', 1), DisposedError, 'ERR_DISPOSED').message, "Could not register 'late'.")
  throwsError(() => container.resolve('repo'), DisposedError, 'ERR_DISPOSED')
})

dispose('a singleton resolved from a scope after the container is disposed is refused', async () => {
  const container = createServiceContainer().singleton('pool', () => ({}))
  const scope = container.createScope()
  // Disposing the container disposes the scope too, so both are refused.
  await container.dispose()
  const error = throwsError(() => scope.resolve('pool'), DisposedError, 'ERR_DISPOSED')
  assert.equal(error.path, ['pool'])
})

dispose.run()
