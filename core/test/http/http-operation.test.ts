import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createServiceContainer, type OperationContext } from '../../src/index.js'
import { HttpOperation, httpMiddlewareSettings } from '../../src/http.js'

const test = suite('HttpOperation disposes exactly once, when both the handler and the response are done')

interface Setup {
  operation: HttpOperation
  disposed: () => number
  disposeCalls: () => number
  reported: unknown[]
}

function start(options: { failing?: boolean; requestId?: string; signal?: AbortSignal } = {}): Setup {
  const reported: unknown[] = []
  let disposed = 0
  const container = createServiceContainer({ onError: (error) => reported.push(error) }).scoped('held', () => ({}), {
    dispose: () => {
      disposed++
      if (options.failing) throw new Error('Disposer failed on purpose.')
    },
  })
  const settings = httpMiddlewareSettings({ container })
  const operation = new HttpOperation(settings, 'GET /items/7', options.requestId, options.signal)
  operation.context.get('held')
  let calls = 0
  const context = operation.context as OperationContext & { dispose: () => Promise<void> }
  const dispose = context.dispose.bind(context)
  context.dispose = () => {
    calls++
    return dispose()
  }
  return { operation, disposed: () => disposed, disposeCalls: () => calls, reported }
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('a response sent in full disposes at once, once', async () => {
  const { operation, disposed, disposeCalls } = start()
  operation.closed(true)
  operation.closed(true)
  operation.settled()
  await tick()
  assert.is(disposed(), 1)
  assert.is(disposeCalls(), 1)
  assert.not.ok(operation.context.aborted)
})

test('a disconnect aborts at once and disposes when the chain run() returned settles', async () => {
  for (const outcome of ['resolve', 'reject'] as const) {
    const { operation, disposed, disposeCalls } = start()
    let finish!: () => void
    const downstream = operation.run(() => new Promise<void>((resolve, reject) => (finish = outcome === 'resolve' ? resolve : () => reject(new Error('handler failed')))))
    downstream.catch(() => undefined)
    operation.closed(false)
    assert.ok(operation.context.aborted)
    assert.ok(operation.context.signal.aborted)
    await tick()
    assert.is(disposed(), 0, 'disposed while the handler still ran')
    finish()
    await tick()
    assert.is(disposed(), 1)
    assert.is(disposeCalls(), 1)
  }
})

test('without a promise to wait for, a disconnect waits for settled()', async () => {
  const { operation, disposed } = start()
  operation.run(() => undefined)
  operation.closed(false)
  await tick()
  assert.is(disposed(), 0)
  operation.settled()
  operation.settled()
  await tick()
  assert.is(disposed(), 1)
})

test('the first word on the response stands: a disconnect told twice waits for the chain once', async () => {
  const { operation, disposed, disposeCalls } = start()
  let finish!: () => void
  operation.run(() => new Promise<void>((resolve) => (finish = resolve)))
  operation.closed(false)
  operation.closed(false)
  operation.closed(true)
  await tick()
  assert.is(disposed(), 0, 'a late closed(true) disposed while the handler still ran')
  finish()
  await tick()
  assert.is(disposed(), 1)
  assert.is(disposeCalls(), 1)
})

test('a chain that settled before the disconnect disposes at the disconnect', async () => {
  const { operation, disposed } = start()
  operation.settled()
  await tick()
  assert.is(disposed(), 0, 'disposed before the response was done')
  operation.closed(false)
  await tick()
  assert.is(disposed(), 1)
})

test('a disposal failure goes to the container, not to the caller', async () => {
  const { operation, reported } = start({ failing: true })
  operation.closed(true)
  await tick()
  assert.is(reported.length, 1)
  assert.instance(reported[0], AggregateError)
})

test('the context runs the chain, carries the request id, and follows the given signal', async () => {
  const parent = new AbortController()
  const { operation } = start({ requestId: 'req-9', signal: parent.signal })
  assert.is(operation.requestId, 'req-9')
  assert.is(operation.context.requestId, 'req-9')
  assert.is(operation.context.handler, 'http')
  assert.is(
    operation.run(() => (operation.context.scope.resolve('operationContext') as OperationContext).operation),
    'GET /items/7',
  )
  parent.abort('gone')
  assert.ok(operation.context.aborted)
  assert.match(start({ requestId: 'not sane' }).operation.requestId, /^[0-9a-f-]{36}$/)
})

test('a scope that took nothing to dispose is given back on the spot', () => {
  const container = createServiceContainer()
  const operation = new HttpOperation(httpMiddlewareSettings({ container }), 'GET /health', undefined)
  assert.is(container.openScopes, 1)
  operation.closed(true)
  assert.is(container.openScopes, 0)
  assert.ok(operation.context.disposed)
})

test('a name given as a function is built on the first read only, and again after a rename', () => {
  const container = createServiceContainer()
  let route: string | undefined
  let builds = 0
  const name = (): string => {
    builds++
    return route === undefined ? 'GET /items/7' : `GET ${route}`
  }
  const operation = new HttpOperation(httpMiddlewareSettings({ container }), name, undefined)
  assert.is(builds, 0, 'built before anything read it')
  assert.is(operation.context.operation, 'GET /items/7')
  assert.is(operation.context.operation, 'GET /items/7')
  assert.is(builds, 1)
  route = '/items/:id'
  operation.rename(name)
  assert.is(builds, 1, 'a rename builds nothing by itself')
  assert.is(operation.context.operation, 'GET /items/:id')
  assert.is(builds, 2)
  operation.rename('GET /items/:id/v2')
  assert.is(operation.context.operation, 'GET /items/:id/v2')
  assert.is(builds, 2)
  operation.closed(true)
  assert.is(container.openScopes, 0)
})

test('a name the application set stays: later renames by the adapter, and a setOperation() inside a name builder', () => {
  const container = createServiceContainer()
  const settings = httpMiddlewareSettings({ container })
  const named = new HttpOperation(settings, () => 'GET /orders', undefined)
  named.context.setOperation('orders.create')
  named.rename(() => 'POST /orders')
  named.rename('POST /orders')
  assert.is(named.context.operation, 'orders.create')
  // A user's operationName that names the operation itself while the adapter's builder runs.
  const inside = new HttpOperation(settings, () => {
    inside.context.setOperation('orders.list')
    return 'GET /orders'
  }, undefined)
  assert.is(inside.context.operation, 'orders.list', 'the first read')
  inside.rename(() => 'GET /orders/:id')
  assert.is(inside.context.operation, 'orders.list')
  named.closed(true)
  inside.closed(true)
  assert.is(container.openScopes, 0)
})

test('a bad name is refused naming the option: as a string at once, from a function on the read that builds it', () => {
  const container = createServiceContainer()
  const settings = httpMiddlewareSettings({ container })
  assert.throws(() => new HttpOperation(settings, '', undefined), (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
  // A name that would break a log line, or one past 256 characters: refused as a renamed one is.
  for (const bad of ['GET /x\r\ninjected: 1', `GET /${'x'.repeat(300)}`]) {
    assert.throws(() => new HttpOperation(settings, bad, undefined), (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
    const renamed = new HttpOperation(settings, 'GET /fine', undefined)
    assert.throws(() => renamed.rename(bad), (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
    renamed.closed(true)
  }
  assert.is(container.openScopes, 0, 'a refused name leaves no scope open')
  const operation = new HttpOperation(settings, () => '', undefined)
  assert.throws(() => operation.context.operation, (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
  assert.throws(() => operation.rename(''), (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
  operation.rename('GET /fine')
  assert.is(operation.context.operation, 'GET /fine')
  operation.closed(true)
  assert.is(container.openScopes, 0)
})

test('a response the handler ended by itself, while the chain runs on (Koa\'s respond = false), keeps the scope until the chain settles', async () => {
  const { operation, disposed } = start()
  let finish!: () => void
  operation.run(() => new Promise<void>((resolve) => (finish = resolve)))
  operation.finishedByHandler()
  operation.closed(false)
  await tick()
  assert.is(disposed(), 0, 'the handler still runs')
  assert.not.ok(operation.context.aborted, 'a response sent in full is no disconnect')
  finish()
  await tick()
  assert.is(disposed(), 1)
})

test('a builder asked on every read (the route may still change): each new name is checked, and the same one shown as it was', () => {
  const container = createServiceContainer()
  let built = undefined as unknown as string
  // Names itself again each time, as the Express and Koa adapters do while the request runs.
  const operation: HttpOperation = new HttpOperation(httpMiddlewareSettings({ container }), function name() {
    operation.rename(name)
    return built
  }, undefined)
  assert.throws(() => operation.context.operation, (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
  built = 'GET /x\u0085a'
  assert.is(operation.context.operation, 'GET /x\\u0085a')
  assert.is(operation.context.operation, 'GET /x\\u0085a', 'the same string is shown as it was')
  built = 'GET /items/:id'
  assert.is(operation.context.operation, 'GET /items/:id')
  built = ''
  assert.throws(() => operation.context.operation, (error: Error) => error.name === 'InvalidOptionError' && /operation/.test(error.message))
  built = 'GET /items/:id'
  assert.is(operation.context.operation, 'GET /items/:id')
  operation.closed(true)
  assert.is(container.openScopes, 0)
})

test('a default name built from what the client sent is kept printable and bounded', () => {
  const container = createServiceContainer()
  const settings = httpMiddlewareSettings({ container })
  // A byte 0x85 in a path no route matched reaches the name as U+0085 (NEL), which log viewers take for a line break.
  const unmatched = new HttpOperation(settings, () => 'GET /x\u0085injected\u2028line', undefined)
  assert.is(unmatched.context.operation, 'GET /x\\u0085injected\\u2028line')
  // A parameterized mount path holds the client's value, of any length.
  const long = new HttpOperation(settings, () => `GET /t/${'a'.repeat(400)}/orders/:id`, undefined)
  assert.is(long.context.operation.length, 256)
  assert.ok(long.context.operation.endsWith('...'))
  // Cut between characters: an emoji across the cut is left out whole.
  const emoji = new HttpOperation(settings, () => `GET /${'a'.repeat(247)}\u{1F600}\u{1F600}tail${'b'.repeat(300)}`, undefined)
  assert.is(emoji.context.operation, `GET /${'a'.repeat(247)}...`)
  emoji.closed(true)
  const plain = new HttpOperation(settings, () => 'GET /orders/:id', undefined)
  assert.is(plain.context.operation, 'GET /orders/:id')
  unmatched.closed(true)
  long.closed(true)
  plain.closed(true)
  assert.is(container.openScopes, 0)
})

test.run()
