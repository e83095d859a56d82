// Ordinary code that must compile (the test command typechecks every test file first) and run.
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CONTEXT_SERVICE, OperationContext, createServiceContainer, runOperation, type ServiceContainer, type ServiceScope } from '../src/index.js'

const test = suite('ServiceContainer typings')

interface Services {
  config: { url: string }
}

// A bare `ServiceContainer` / `ServiceScope` parameter, as a framework's mount function declares it.
function mount(container: ServiceContainer): number {
  return container.names().length
}
function scopeOf(scope: ServiceScope): boolean {
  return scope.disposed
}

test('a container typed with an interface passes where a ServiceContainer or ServiceScope is expected', async () => {
  const typed = createServiceContainer<Services>().value('config', { url: 'postgres://db/orders' })
  assert.is(mount(typed), 1)
  const scope = typed.createScope()
  assert.is(scopeOf(scope), false)
  await scope.dispose()
})

test("a scoped or transient factory of a typed container resolves the scope's operationContext by name", async () => {
  const container = createServiceContainer<Services>()
    .value('config', { url: 'x' })
    .scoped('audit', (r) => ({ requestId: r.resolve('operationContext').requestId }))
    .transient('trace', (r) => r.resolve(CONTEXT_SERVICE).operation)
  const seen = await runOperation('api', 'GET /audit', (context) => [(context.get('audit') as { requestId: string }).requestId, context.get('trace')], { container, requestId: 'r-7' })
  assert.equal(seen, ['r-7', 'GET /audit'])
  assert.type(OperationContext.tryCurrent(), 'undefined')
  await container.dispose()
})

test.run()
