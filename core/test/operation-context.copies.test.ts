import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, createServiceContainer } from '../src/index.js'
import { contextRule } from '../src/adapter.js'
import { satisfiesRule } from '../src/options.js'

// A second copy of the module, as an application gets with a nested node_modules or a bundled adapter:
// its own class, its own prototype, the same process.
type Module = typeof import('../src/operation-context.js')
type Hooks = typeof import('../src/operation-hooks.js')
let secondCopy: Module
// The other copy's hooks, as its pool engine uses them.
let secondHooks: Hooks

const copies = suite('OperationContext with two copies of core installed')

copies.before(async () => {
  secondCopy = (await import(new URL('../src/operation-context.ts?second-copy', import.meta.url).href)) as Module
  secondHooks = (await import(new URL('../src/operation-hooks.ts?second-copy', import.meta.url).href)) as Hooks
})

copies('the test really has a second copy', async () => {
  assert.is.not(secondCopy.OperationContext, OperationContext)
  assert.is.not(secondHooks.countWait, (await import('../src/operation-hooks.js')).countWait)
})

copies("an accessor one copy defines is on the other copy's contexts, whichever loaded first", async () => {
  const container = createServiceContainer()
  secondCopy.OperationContext.defineAccessor('copiesProbe', (context) => `probe for ${context.operation}`)
  const context = OperationContext.create('api', 'GET /x', { container }) as OperationContext & { copiesProbe: string }
  assert.is(context.copiesProbe, 'probe for GET /x')
  OperationContext.defineAccessor('copiesProbeBack', () => 'back')
  const other = secondCopy.OperationContext.create('api', 'GET /y', { container }) as unknown as { copiesProbeBack: string; dispose(): Promise<void> }
  assert.is(other.copiesProbeBack, 'back')
  await context.dispose()
  await other.dispose()
  await container.dispose()
})

copies("the other copy's pool engine can wait on a context and is told when it aborts", async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('api', 'GET /x', { container })
  const told: unknown[] = []
  secondHooks.countWait(context as never, 1)
  secondHooks.watchAbort(context as never, (_, reason) => told.push(reason))
  await context.dispose()
  // Disposed with a checkout still counted as waiting: the wait is ended, through the other copy's watcher.
  assert.is(told.length, 1)
  assert.match(String((told[0] as Error).message), 'The operation has ended')
  await container.dispose()
})

copies("the adapters' context rule takes the other copy's contexts, and nothing else", async () => {
  const container = createServiceContainer()
  const theirs = secondCopy.OperationContext.create('api', 'GET /x', { container })
  assert.ok(satisfiesRule(theirs, contextRule))
  assert.ok(satisfiesRule(OperationContext.create('api', 'GET /y', { container }), contextRule))
  for (const value of [{}, null, 'context', { scope: {}, resource: () => undefined }]) assert.not.ok(satisfiesRule(value, contextRule))
  await container.dispose()
})

copies.run()
