import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  CONTEXT_SERVICE,
  ContextUnavailableError,
  DisposedError,
  OperationContext,
  createServiceContainer,
  DisposeFailedError,
} from '../src/index.js'
import { rejects, throwsError } from '@lifeguard/test-kit'
import { deferred, turn } from './_helpers/async.js'
import { countWait } from '../src/operation-hooks.js'

// How adapters add typed accessors (`context.postgres`): declaration merging plus defineAccessor.
declare module '../src/operation-context.js' {
  interface OperationContext {
    readonly lifecycleTestHandle: { owner: string; serial: number }
  }
}

let handles = 0
OperationContext.defineAccessor('lifecycleTestHandle', (context) => ({ owner: context.operation, serial: ++handles }))

const lifecycle = suite('OperationContext lifecycle')

lifecycle("the seed's usage compiles and runs exactly as written", async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('handler', 'operation', { container })
  assert.is(context.handler, 'handler')
  assert.is(context.operation, 'operation')
  await context.dispose()
  assert.ok(context.disposed)
})

lifecycle('create records handler, operation, request id and start time', async () => {
  const before = Date.now()
  const context = OperationContext.create('orders-api', 'GET /orders/:id', { container: createServiceContainer(), requestId: 'req-1' })
  assert.is(context.requestId, 'req-1')
  assert.ok(context.startedAt >= before && context.startedAt <= Date.now())
  const anonymous = OperationContext.create('orders-api', 'GET /health', { container: createServiceContainer() })
  assert.is(anonymous.requestId, undefined)
  await context.dispose()
  await anonymous.dispose()
})

lifecycle('given a container, a context creates its own scope and disposes it', async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders', { container })
  assert.is(container.openScopes, 1)
  assert.is(context.scope.container, container)
  assert.is.not(context.scope, container)
  await context.dispose()
  assert.ok(context.scope.disposed)
  assert.is(container.openScopes, 0)
  assert.not.ok(container.disposed)
})

lifecycle('given a scope, a context takes it over and disposes it', async () => {
  const container = createServiceContainer()
  const scope = container.createScope()
  const context = OperationContext.create('orders-api', 'GET /orders', { container: scope })
  assert.is(context.scope, scope)
  await context.dispose()
  assert.ok(scope.disposed)
})

lifecycle('dispose disposes everything the operation resolved, newest first, and is idempotent', async () => {
  const log: string[] = []
  const container = createServiceContainer()
    .scoped('db', () => 'db', { dispose: () => void log.push('db') })
    .scoped('repo', (r) => `repo on ${String(r.resolve('db'))}`, { dispose: () => void log.push('repo') })
  const context = OperationContext.create('orders-api', 'GET /orders', { container })
  context.get('repo')
  const first = context.dispose()
  assert.is(context.dispose(), first)
  await first
  await context.dispose()
  assert.equal(log, ['repo', 'db'])
})

lifecycle('a disposer failure rejects dispose with a DisposeFailedError', async () => {
  const container = createServiceContainer().scoped('tx', () => 'tx', {
    dispose: () => {
      throw new Error('rollback failed')
    },
  })
  const context = OperationContext.create('orders-api', 'POST /orders', { container })
  context.get('tx')
  const error = await rejects(context.dispose(), DisposeFailedError, 'ERR_DISPOSE_FAILED')
  assert.is((error.errors[0] as Error).message, 'rollback failed')
  assert.ok(context.disposed)
})

lifecycle('current() throws ContextUnavailableError outside any operation; tryCurrent() returns undefined', () => {
  const error = throwsError(() => OperationContext.current(), ContextUnavailableError, 'ERR_CONTEXT_UNAVAILABLE')
  assert.match(error.message, /^Could not find the current operation context/)
  assert.is(OperationContext.tryCurrent(), undefined)
})

lifecycle('run() makes the context current for fn and returns what fn returns', async () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer() })
  const result = context.run(() => {
    assert.is(OperationContext.current(), context)
    assert.is(OperationContext.tryCurrent(), context)
    return 42
  })
  assert.is(result, 42)
  assert.is(OperationContext.tryCurrent(), undefined)
  assert.is(await context.run(async () => 'async result'), 'async result')
  await context.dispose()
})

lifecycle('nested runs see the innermost context and restore the outer one', async () => {
  const container = createServiceContainer()
  const outer = OperationContext.create('worker', 'batch', { container })
  const inner = OperationContext.create('worker', 'item', { container })
  outer.run(() => {
    inner.run(() => assert.is(OperationContext.current(), inner))
    assert.is(OperationContext.current(), outer)
  })
  await container.dispose()
})

lifecycle('a thrown error leaves run() and the context is no longer current', async () => {
  const context = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer() })
  throwsError(
    () =>
      context.run(() => {
        throw new RangeError('bad id')
      }),
    RangeError,
  )
  assert.is(OperationContext.tryCurrent(), undefined)
  await context.dispose()
})

lifecycle('get() resolves lazily from the context scope, once per scoped service', async () => {
  let created = 0
  const container = createServiceContainer().scoped('repo', () => ({ serial: ++created }))
  const a = OperationContext.create('orders-api', 'GET /a', { container })
  const b = OperationContext.create('orders-api', 'GET /b', { container })
  assert.is(created, 0)
  const repo = a.get<{ serial: number }>('repo')
  assert.is(created, 1)
  assert.is(a.get('repo'), repo)
  assert.is.not(b.get('repo'), repo)
  await a.dispose()
  const error = throwsError(() => a.get('repo'), DisposedError, 'ERR_DISPOSED')
  assert.equal(error.path, ['repo'])
  await b.dispose()
})

lifecycle('the context is resolvable in its own scope, so scoped factories can depend on it', async () => {
  const container = createServiceContainer().scoped('audit', (r) => {
    const context = r.resolve(CONTEXT_SERVICE) as OperationContext
    return `${context.operation} by ${context.requestId ?? '?'}`
  })
  const context = OperationContext.create('orders-api', 'DELETE /orders/:id', { container, requestId: 'r-9' })
  assert.is(CONTEXT_SERVICE, 'operationContext')
  assert.is(context.get(CONTEXT_SERVICE), context)
  assert.is(context.get('audit'), 'DELETE /orders/:id by r-9')
  await context.dispose()
})

lifecycle('a factory pending when the operation ends may still resolve a service whose factory asks ofScope(); both are disposed', async () => {
  const opened = deferred()
  const closed: string[] = []
  const container = createServiceContainer()
    // As registerPostgres and registerMongo make their handle.
    .scoped('postgres', (r) => ({ context: OperationContext.ofScope(r.scope), [Symbol.asyncDispose]: async () => void closed.push('postgres') }))
    .scoped('unitOfWork', async (r) => {
      await opened.promise
      const postgres = r.resolve('postgres') // looked up after its first await
      return { postgres, [Symbol.asyncDispose]: async () => void closed.push('unitOfWork') }
    })
  const context = OperationContext.create('worker', 'sync', { container })
  const resolving = context.get<Promise<{ postgres: { context: unknown } }>>('unitOfWork')
  await turn()
  const disposing = context.dispose()
  opened.resolve()
  assert.is((await resolving).postgres.context, context)
  await disposing
  assert.equal(closed, ['postgres', 'unitOfWork'])
  await container.dispose()
})

lifecycle('defineAccessor adds a lazy property created once per context', async () => {
  const container = createServiceContainer()
  const a = OperationContext.create('orders-api', 'GET /a', { container })
  const b = OperationContext.create('orders-api', 'GET /b', { container })
  const before = handles
  const handle = a.lifecycleTestHandle
  assert.is(handles, before + 1)
  assert.is(handle.owner, 'GET /a')
  assert.is(a.lifecycleTestHandle, handle)
  assert.is(handles, before + 1)
  assert.is(b.lifecycleTestHandle.owner, 'GET /b')
  assert.is(handles, before + 2)
  await a.dispose()
  throwsError(() => a.lifecycleTestHandle, DisposedError, 'ERR_DISPOSED')
  await b.dispose()
})

lifecycle('defineAccessor keeps the first definition of a name', async () => {
  OperationContext.defineAccessor('lifecycleTestHandle', () => ({ owner: 'second definition', serial: -1 }))
  const context = OperationContext.create('orders-api', 'GET /c', { container: createServiceContainer() })
  assert.is(context.lifecycleTestHandle.owner, 'GET /c')
  await context.dispose()
})

lifecycle('resource() caches any value per context, including undefined', async () => {
  let calls = 0
  const context = OperationContext.create('orders-api', 'GET /d', { container: createServiceContainer() })
  const create = () => {
    calls++
    return undefined
  }
  assert.is(context.resource('nothing', create), undefined)
  assert.is(context.resource('nothing', create), undefined)
  assert.is(calls, 1)
  await context.dispose()
  const error = throwsError(() => context.resource('nothing', create), DisposedError, 'ERR_DISPOSED')
  assert.is(error.message, "Could not use 'nothing'. The operation context is disposed.")
})

lifecycle('an abort listener that disposes the context, run by dispose() itself, gets the one disposal, whose failure is handled once', async () => {
  const container = createServiceContainer().scoped('failing', () => ({}), {
    dispose: () => {
      throw new Error('boom')
    },
  })
  const context = OperationContext.create('job', 'reentrant', { container })
  context.scope.resolve('failing')
  let inner: Promise<void> | undefined
  context.signal.addEventListener('abort', () => {
    inner = context.dispose()
  })
  // A checkout still waiting: dispose() aborts the operation, and the listener runs inside it.
  countWait(context, 1)
  const outer = context.dispose()
  assert.ok(inner !== undefined, 'the listener ran')
  assert.is(inner, outer)
  await rejects(outer, DisposeFailedError)
})

lifecycle.run()
