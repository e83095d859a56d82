import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, OperationContext, createServiceContainer } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const accessors = suite('OperationContext.defineAccessor, run and resource arguments')

const container = createServiceContainer()
accessors.after(async () => {
  await container.dispose()
})

accessors('defineAccessor refuses a create that is not a function, naming it, and defines nothing', () => {
  const error = throwsError(() => OperationContext.defineAccessor('accessorsTestBad', 42 as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'create')
  assert.is(error.message, 'Invalid options for OperationContext.defineAccessor: expected `create` to be a function, got `42` (number).')
  assert.not.ok('accessorsTestBad' in OperationContext.prototype)
})

accessors('defineAccessor refuses an empty or non-string name', () => {
  for (const name of ['', undefined, Symbol('handle'), 7]) {
    const error = throwsError(() => OperationContext.defineAccessor(name as never, () => 1), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'name')
    assert.match(error.message, 'expected `name` to be a non-empty string')
  }
})

accessors('defineAccessor refuses a name every context has already: a getter, a method, a field, an Object member', async () => {
  for (const name of ['signal', 'aborted', 'dispose', 'run', 'handler', 'requestId', 'scope', 'startedAt', 'toString', 'constructor', '__proto__']) {
    const error = throwsError(() => OperationContext.defineAccessor(name, () => 'mine'), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'name')
    assert.match(error.message, `Invalid options for OperationContext.defineAccessor: expected \`name\` to be a name no OperationContext member has (such as \`signal\`, \`dispose\` or \`handler\`), and not \`then\`, got \`${JSON.stringify(name)}\` (string).`)
  }
  const context = OperationContext.create('api', 'GET /x', { container, requestId: 'r-1' })
  assert.instance(context.signal, AbortSignal)
  assert.is(context.handler, 'api')
  await context.dispose()
})

accessors('defineAccessor refuses then: every context would become a thenable', async () => {
  const error = throwsError(() => OperationContext.defineAccessor('then', () => (resolve: (value: unknown) => void) => resolve('hijacked')), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'name')
  const context = OperationContext.create('api', 'GET /x', { container })
  assert.is(await (async () => context)(), context)
  await context.dispose()
})

accessors('defineAccessor still keeps the first definition of a name defined twice (two copies of an adapter)', async () => {
  OperationContext.defineAccessor('accessorsTestTwice', () => 'first')
  OperationContext.defineAccessor('accessorsTestTwice', () => 'second')
  const context = OperationContext.create('api', 'GET /x', { container }) as OperationContext & { accessorsTestTwice: string }
  assert.is(context.accessorsTestTwice, 'first')
  await context.dispose()
})

accessors('run() and resource() refuse what is not a function with InvalidOptionError', async () => {
  const context = OperationContext.create('api', 'GET /x', { container })
  const run = throwsError(() => context.run(42 as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(run.message, 'Invalid options for OperationContext.run: expected `fn` to be a function, got `42` (number).')
  const resource = throwsError(() => context.resource('k', 42 as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(resource.message, 'Invalid options for OperationContext.resource: expected `create` to be a function, got `42` (number).')
  assert.is(context.resource('k', () => 'made'), 'made', 'nothing was cached for the bad call')
  await context.dispose()
})

accessors.run()
