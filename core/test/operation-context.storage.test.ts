import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { AsyncLocalStorage } from 'node:async_hooks'
import { OperationContext, createServiceContainer } from '../src/index.js'

type StorageModule = typeof import('../src/context-storage.js')
type ContextModule = typeof import('../src/operation-context.js')

const storageKey = Symbol.for('lifeguard.operation-context.storage')
const holder = globalThis as typeof globalThis & { [storageKey]?: AsyncLocalStorage<unknown> }

// A query string gives a fresh module instance: the same as a second installed copy of the package.
async function loadCopy<T>(file: string, copy: string): Promise<T> {
  return (await import(new URL(`../src/${file}?copy=${copy}`, import.meta.url).href)) as T
}

const storage = suite('OperationContext storage')

// The storage core itself uses, reached the way any other copy reaches it.
const registered = holder[storageKey] as AsyncLocalStorage<unknown>

storage('is registered process-wide under a well-known symbol', async () => {
  assert.ok(registered)
  const context = OperationContext.create('orders-api', 'GET /orders', { container: createServiceContainer() })
  context.run(() => assert.is(registered.getStore(), context))
  await context.dispose()
})

storage('a second copy of core loads as a separate module yet uses the same storage', async () => {
  const copy = await loadCopy<StorageModule>('context-storage.ts', '2')
  assert.is(copy.contextStorage, registered)
})

storage('a context run by one copy is current for the other copy, and the other way round', async () => {
  const copy = await loadCopy<ContextModule>('operation-context.ts', '2')
  // A separate module: its OperationContext is another class object.
  assert.is.not(copy.OperationContext, OperationContext)
  const container = createServiceContainer()
  const ours = OperationContext.create('orders-api', 'GET /orders', { container })
  await ours.run(async () => {
    await Promise.resolve()
    assert.is(copy.OperationContext.current(), ours)
  })
  const theirs = copy.OperationContext.create('billing-worker', 'charge', { container })
  theirs.run(() => {
    assert.is(OperationContext.tryCurrent(), theirs)
  })
  assert.is(copy.OperationContext.tryCurrent(), undefined)
  await container.dispose()
})

storage('without the shared registration a fresh copy would get its own storage (the test can tell copies apart)', async () => {
  try {
    delete holder[storageKey]
    const isolated = await loadCopy<StorageModule>('context-storage.ts', '3')
    assert.is.not(isolated.contextStorage, registered)
  } finally {
    holder[storageKey] = registered
  }
  assert.is(holder[storageKey], registered)
})

storage.run()
