import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { CONTEXT_SERVICE, DisposedError, InvalidOptionError, OperationContext, createServiceContainer, runOperation } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const options = suite('OperationContext.create options')

options('accepts every documented option', async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders', {
    container,
    signal: new AbortController().signal,
    requestId: 'req-1',
    deadlineMillis: 1000,
  })
  const explicitUndefined = OperationContext.create('orders-api', 'GET /orders', { container, signal: undefined, requestId: undefined, deadlineMillis: undefined })
  await context.dispose()
  await explicitUndefined.dispose()
  await container.dispose()
})

options('a container or scope passed as the options themselves is refused naming `options`, not run in a new scope', async () => {
  const container = createServiceContainer()
  const scope = container.createScope()
  for (const [given, where] of [
    [scope, 'OperationContext.create'],
    [container, 'OperationContext.create'],
    [scope, 'runOperation'],
  ] as const) {
    // Before: a scope's `container` getter read as the option; the context ran in a new scope of the root, and
    // the scope given was never used nor disposed.
    const error: InvalidOptionError =
      where === 'runOperation'
        ? await runOperation('job', 'x', () => 'ran', given as never).then(
            () => assert.unreachable('refused') as never,
            (failure: unknown) => failure as InvalidOptionError,
          )
        : throwsError(() => OperationContext.create('job', 'x', given as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.instance(error, InvalidOptionError)
    assert.is(error.option, 'options')
    assert.match(error.message, `Invalid options for ${where}: expected \`options\` to be an options object ({ container })`)
  }
  assert.is(container.openScopes, 1, 'only the scope made here')
  await scope.dispose()
  await container.dispose()
})

options('rejects a bad handler or operation with InvalidOptionError naming it', () => {
  const container = createServiceContainer()
  const cases: [unknown, unknown, string][] = [
    ['', 'GET /orders', 'handler'],
    [42, 'GET /orders', 'handler'],
    ['orders-api', '', 'operation'],
    ['orders-api', undefined, 'operation'],
    // They go into logs, events and metric attributes as they are: no forged lines, a bounded length.
    ['orders-api\r\nInjected: 1', 'GET /orders', 'handler'],
    ['orders-api', 'GET /x\n\u001b[31mFAKE LOG LINE', 'operation'],
    ['orders-api', `GET /${'x'.repeat(300)}`, 'operation'],
  ]
  for (const [handler, operation, option] of cases) {
    const error = throwsError(() => OperationContext.create(handler as string, operation as string, { container }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, `Invalid options for OperationContext.create: expected \`${option}\` to be a non-empty string`)
  }
  assert.is(container.openScopes, 0)
})

options('rejects every bad option with InvalidOptionError naming option, value and range', () => {
  const container = createServiceContainer()
  const cases: [unknown, string, string][] = [
    [undefined, 'container', 'expected `container` to be a ServiceContainer, or a ServiceScope no other OperationContext has taken over, got `undefined` (undefined).'],
    [{}, 'container', 'expected `container` to be a ServiceContainer, or a ServiceScope no other OperationContext has taken over'],
    [{ container: {} }, 'container', 'expected `container` to be a ServiceContainer, or a ServiceScope no other OperationContext has taken over, got an object.'],
    [{ container, signal: {} }, 'signal', 'expected `signal` to be an AbortSignal, got an object.'],
    [{ container, requestId: 42 }, 'requestId', 'expected `requestId` to be a string of 1 to 256 characters without control, line-break, bidi or zero-width characters, got `42` (number).'],
    [{ container, requestId: '' }, 'requestId', 'expected `requestId` to be a string of 1 to 256 characters without control, line-break, bidi or zero-width characters, got `""` (string).'],
    // A line break would let an id forge log lines.
    [{ container, requestId: 'job-1\nlevel=error msg=forged' }, 'requestId', 'expected `requestId` to be a string of 1 to 256 characters without control, line-break, bidi or zero-width characters, got `"job-1\\nlevel=error msg=forged"` (string).'],
    [{ container, requestId: 'x'.repeat(257) }, 'requestId', 'expected `requestId` to be a string of 1 to 256 characters without control, line-break, bidi or zero-width characters'],
    // What a log viewer shows as a new line, a change of direction or nothing, and a lone surrogate.
    // Quoted escaped: the message goes to logs too, where they would forge a line (JSON leaves them as they are).
    ...[
      ['a\u2028b', 'a\\u2028b'],
      ['a\u202eb', 'a\\u202eb'],
      ['a\u200bb', 'a\\u200bb'],
      ['a\u0085b', 'a\\u0085b'],
      ['a\ud800b', 'a\\ud800b'],
    ].map(([requestId, shown]): [unknown, string, string] => [{ container, requestId }, 'requestId', `expected \`requestId\` to be a string of 1 to 256 characters without control, line-break, bidi or zero-width characters, got \`"${shown}"\` (string).`]),
    [{ container, signal: { aborted: false } }, 'signal', 'expected `signal` to be an AbortSignal, got an object.'],
    [{ container, signal: { aborted: false, addEventListener: 1, removeEventListener() {} } }, 'signal', 'expected `signal` to be an AbortSignal'],
    [{ container, deadlineMillis: 0 }, 'deadlineMillis', 'expected `deadlineMillis` to be an integer number of milliseconds between 1 and 2147483647, got `0` (number).'],
    [{ container, deadlineMillis: 2.5 }, 'deadlineMillis', 'expected `deadlineMillis` to be an integer number of milliseconds between 1 and 2147483647, got `2.5` (number).'],
    [{ container, deadlineMillis: '100' }, 'deadlineMillis', 'expected `deadlineMillis` to be an integer number of milliseconds between 1 and 2147483647, got `"100"` (string).'],
    [{ container, deadlineMillis: 2 ** 32 }, 'deadlineMillis', 'expected `deadlineMillis` to be an integer number of milliseconds between 1 and 2147483647, got `4294967296` (number).'],
    [{ container, deadline: 100 }, 'deadline', 'unknown option `deadline`. Known options: `container`, `signal`, `requestId`, `deadlineMillis`.'],
    [null, 'options', 'expected an object, got `null`.'],
  ]
  for (const [bad, option, message] of cases) {
    const error = throwsError(() => OperationContext.create('orders-api', 'GET /orders', bad as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, `Invalid options for OperationContext.create: ${message}`)
  }
  // No scope was created for a rejected call.
  assert.is(container.openScopes, 0)
})

options('ofScope() of something that is not a scope is an InvalidOptionError naming it', () => {
  for (const bad of [undefined, null, {}, 'scope']) {
    const error = throwsError(() => OperationContext.ofScope(bad as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'scope')
    assert.match(error.message, 'Invalid options for OperationContext.ofScope: expected `scope` to be a scope (`container.createScope()`)')
  }
})

options('a scope serves one context: a second one on it is refused, and the first goes on', async () => {
  const container = createServiceContainer().scoped('conn', () => ({ open: true }), { dispose: (conn) => void (conn.open = false) })
  const scope = container.createScope()
  const first = OperationContext.create('orders-api', 'GET /orders', { container: scope })
  const conn = first.get<{ open: boolean }>('conn')
  const error = throwsError(() => OperationContext.create('orders-api', 'GET /other', { container: scope }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'container')
  assert.match(error.message, 'expected `container` to be a ServiceContainer, or a ServiceScope no other OperationContext has taken over')
  assert.is(scope.resolve(CONTEXT_SERVICE), first)
  assert.ok(conn.open, 'the first operation keeps its services')
  await first.dispose()
  assert.not.ok(conn.open)
  // Also when the scope held a value of the caller's before the context took it over.
  const provided = container.createScope().provide('user', { id: 7 })
  const taken = OperationContext.create('orders-api', 'GET /me', { container: provided })
  throwsError(() => OperationContext.create('orders-api', 'GET /other', { container: provided }), InvalidOptionError, 'ERR_INVALID_OPTION')
  await taken.dispose()
  // A container makes a new scope per context, however many.
  const a = OperationContext.create('orders-api', 'GET /a', { container })
  const b = OperationContext.create('orders-api', 'GET /b', { container })
  assert.is.not(a.scope, b.scope)
  await Promise.all([a.dispose(), b.dispose(), container.dispose()])
})

options('an id of 256 printable characters, any script, is kept as given', async () => {
  const container = createServiceContainer()
  for (const requestId of ['x'.repeat(256), 'job:42/report 7', 'ジョブ-1']) {
    const context = OperationContext.create('worker', 'job', { container, requestId })
    assert.is(context.requestId, requestId)
    await context.dispose()
  }
})

options('the quick check and the full validation agree: a duck-typed signal with what the context calls passes', async () => {
  const container = createServiceContainer()
  const target = new EventTarget()
  const signalLike = Object.assign(target, { aborted: false, reason: undefined })
  const context = OperationContext.create('orders-api', 'GET /orders', { container, signal: signalLike as unknown as AbortSignal, deadlineMillis: 2 ** 31 - 1 })
  assert.ok(context.signal instanceof AbortSignal)
  await context.dispose()
})

options('setOperation names the operation once it is known, and refuses a name that is empty, too long or unprintable', async () => {
  const container = createServiceContainer()
  const context = OperationContext.create('orders-api', 'GET /orders/42', { container })
  context.setOperation('GET /orders/:id')
  assert.is(context.operation, 'GET /orders/:id')
  assert.is((context.scope.resolve('operationContext') as OperationContext).operation, 'GET /orders/:id')
  for (const bad of ['', undefined, 42, 'GET /a\nFAKE LOG LINE', 'x'.repeat(257), 'a\u0000']) {
    const error = throwsError(() => context.setOperation(bad as string), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'operation')
    assert.match(error.message, 'Invalid options for OperationContext.setOperation: expected `operation` to be a non-empty string of up to 256 characters without control, line-break, bidi or zero-width characters')
  }
  assert.is(context.operation, 'GET /orders/:id')
  context.setOperation('x'.repeat(256))
  assert.is(context.operation.length, 256)
  await context.dispose()
})

options('a disposed container or scope cannot start an operation', async () => {
  const container = createServiceContainer()
  const scope = container.createScope()
  await scope.dispose()
  throwsError(() => OperationContext.create('orders-api', 'GET /orders', { container: scope }), DisposedError, 'ERR_DISPOSED')
  await container.dispose()
  throwsError(() => OperationContext.create('orders-api', 'GET /orders', { container }), DisposedError, 'ERR_DISPOSED')
})

options.run()
