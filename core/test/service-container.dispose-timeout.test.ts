import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { DisposeTimeoutError, InvalidOptionError, OperationContext, createServiceContainer } from '../src/index.js'
import { deferred, isPending, turn } from './_helpers/async.js'
import { ManualClock, collected, rejects, throwsError } from '@lifeguard/test-kit'

const disposeTimeout = suite('ServiceContainer dispose timeout')

disposeTimeout('a disposer that never settles is given up on after disposeTimeoutMillis; the ones after it still run', async () => {
  const clock = new ManualClock()
  const reported: unknown[] = []
  const log: string[] = []
  const hung = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 5_000, onError: (error) => reported.push(error) })
    .scoped('first', () => 'first', { dispose: () => void log.push('first') })
    .scoped('stuck', () => 'stuck', { dispose: () => hung.promise })
  const scope = container.createScope()
  scope.resolve('first')
  scope.resolve('stuck')
  const disposing = scope.dispose()
  const failing = rejects(disposing, AggregateError)
  await clock.advance(4_999)
  assert.ok(await isPending(disposing), 'still waiting before the timeout')
  assert.equal(log, [])
  await clock.advance(1)
  const error = await failing
  assert.is(error.errors.length, 1)
  const timeout = error.errors[0] as DisposeTimeoutError
  assert.instance(timeout, DisposeTimeoutError)
  assert.is(timeout.code, 'ERR_DISPOSE_TIMEOUT')
  assert.is(timeout.service, 'stuck')
  assert.is(timeout.timeoutMillis, 5_000)
  assert.match(timeout.message, "The disposer of 'stuck' did not settle within 5000ms")
  assert.equal(log, ['first'], 'the disposers after the hung one ran')
  assert.is(container.openScopes, 0)
  // The hung disposer fails later: nobody waits for it any more, so it is reported.
  hung.reject(new Error('late failure'))
  await turn()
  assert.is(reported.length, 1)
  assert.is((reported[0] as Error).message, 'late failure')
  await container.dispose()
})

disposeTimeout('a disposer that settles in time is not reported, and leaves no timer once its deadline has passed', async () => {
  const clock = new ManualClock()
  const reported: unknown[] = []
  const slow = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 5_000, onError: (error) => reported.push(error) })
    .scoped('slow', () => 'slow', { dispose: () => slow.promise })
  const scope = container.createScope()
  scope.resolve('slow')
  const disposing = scope.dispose()
  await clock.advance(4_000)
  slow.resolve()
  await disposing
  await clock.advance(10_000)
  assert.equal(reported, [])
  assert.is(clock.pendingTimers, 0, 'the one timer fired, found nothing due, and was not set again')
  await container.dispose()
})

disposeTimeout('many disposers at once share one timer, each given up on at its own deadline', async () => {
  const clock = new ManualClock()
  const hung = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000, onError: () => {} }).scoped('stuck', () => 'stuck', { dispose: () => hung.promise })
  const first = container.createScope()
  first.resolve('stuck')
  const firstFailing = rejects(first.dispose(), AggregateError)
  await clock.advance(400)
  const second = container.createScope()
  second.resolve('stuck')
  const secondDisposing = second.dispose()
  const secondFailing = rejects(secondDisposing, AggregateError)
  assert.is(clock.pendingTimers, 1)
  await clock.advance(600)
  await firstFailing
  assert.ok(await isPending(secondDisposing), 'the second one has 400 ms left')
  await clock.advance(400)
  await secondFailing
  assert.is(clock.pendingTimers, 0)
  await container.dispose()
})

disposeTimeout('the scopes still open when the container is disposed are disposed together: hung ones cost one timeout, not one each', async () => {
  const clock = new ManualClock()
  const hung = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000, onError: () => {} }).scoped('stuck', () => 'stuck', { dispose: () => hung.promise })
  for (let i = 0; i < 5; i++) container.createScope().resolve('stuck')
  const failing = rejects(container.dispose(), AggregateError)
  await clock.advance(1_000)
  const error = await failing
  assert.is(error.errors.length, 5)
  assert.is(container.openScopes, 0)
})

disposeTimeout('a scope whose failure the container already reported does not report it again when its request ends', async () => {
  const clock = new ManualClock()
  const hung = deferred()
  const reported: unknown[] = []
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000, onError: (error) => reported.push(error) }).scoped('stuck', () => 'stuck', { dispose: () => hung.promise })
  const scope = container.createScope()
  scope.resolve('stuck')
  const failing = rejects(container.dispose(), AggregateError)
  await clock.advance(1_000)
  await failing
  // The request ends after the shutdown: its adapter disposes the scope (again), and reports what fails.
  await scope.dispose()
  assert.equal(reported, [])
})

disposeTimeout('a pending disposer holds the process until its deadline: a hung one is reported, not cut short by the process ending', async () => {
  const { spawnSync } = await import('node:child_process')
  const program = `
    const { createServiceContainer } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)})
    const container = createServiceContainer({ disposeTimeoutMillis: 200 }).scoped('stuck', () => 'stuck', { dispose: () => new Promise(() => {}) })
    container.createScope().resolve('stuck')
    try { await container.dispose() } catch (error) { process.stdout.write(error.errors.flatMap((e) => e.errors ?? [e]).map((e) => e.code).join(',')) }
  `
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', program], { encoding: 'utf8', timeout: 30_000 })
  assert.is(child.status, 0, child.stderr)
  assert.is(child.stdout, 'ERR_DISPOSE_TIMEOUT', 'the timeout fired before the process could end')
})

disposeTimeout('an async factory still pending is waited for up to the timeout; its instance is disposed when it arrives', async () => {
  const clock = new ManualClock()
  const reported: unknown[] = []
  const disposed: string[] = []
  const factory = deferred<{ id: string }>()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000, onError: (error) => reported.push(error) })
    .scoped('connection', () => factory.promise, { dispose: (instance) => void disposed.push(instance.id) })
  const scope = container.createScope()
  const resolving = scope.resolve('connection')
  const failing = rejects(scope.dispose(), AggregateError)
  await clock.advance(1_000)
  const error = await failing
  const timeout = error.errors[0] as DisposeTimeoutError
  assert.instance(timeout, DisposeTimeoutError)
  assert.is(timeout.service, 'connection')
  assert.is(timeout.waitedFor, 'factory')
  assert.match(timeout.message, "The async factory of 'connection' did not settle within 1000ms")
  // The factory gets its connection after all: nothing else would ever give it back.
  factory.resolve({ id: 'late' })
  assert.equal(await resolving, { id: 'late' })
  await turn()
  assert.equal(disposed, ['late'])
  assert.equal(reported, [])
  await container.dispose()
})

disposeTimeout('a disposer that fails after its timeout, or the disposer of a factory that settled late, reaches onError redacted', async () => {
  const clock = new ManualClock()
  const reported: unknown[] = []
  const hung = deferred()
  const factory = deferred<string>()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000, onError: (error) => reported.push(error) })
    .scoped('stuck', () => 'stuck', { dispose: () => hung.promise })
    .scoped('connection', () => factory.promise, { dispose: () => Promise.reject(new Error('could not end postgres://u:secret@h/db')) })
  const scope = container.createScope()
  scope.resolve('stuck')
  const resolving = scope.resolve('connection')
  const failing = rejects(scope.dispose(), AggregateError)
  await clock.advance(1_000)
  await clock.advance(1_000)
  await failing
  // Settled after its scope stopped waiting: disposed at once (`disposeLate`), its failure reported.
  factory.resolve('late')
  await resolving
  await turn()
  // The hung disposer fails after its deadline.
  hung.reject(Object.assign(new Error('could not close postgres://u:secret@h/db'), { code: 'ECONNRESET' }))
  await turn()
  assert.equal(
    reported.map((error) => (error as Error).message),
    ['could not end postgres://u:***@h/db', 'could not close postgres://u:***@h/db'],
  )
  assert.is((reported[1] as { code?: string }).code, 'ECONNRESET')
  await container.dispose()
})

disposeTimeout('a factory started by one pending at dispose is waited for under the same deadline, and named when it passes', async () => {
  const clock = new ManualClock()
  const firstGate = deferred()
  const hung = deferred<string>()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 1_000 })
    .scoped('second', () => hung.promise)
    .scoped('first', async (r) => {
      await firstGate.promise
      void r.resolve('second')
      return 'first'
    })
  const scope = container.createScope()
  const resolving = scope.resolve('first')
  const disposing = scope.dispose()
  const failing = rejects(disposing, AggregateError)
  await clock.advance(600)
  firstGate.resolve()
  await resolving
  assert.ok(await isPending(disposing), 'waiting for the second factory')
  // Not a fresh timeout for the second: 400 ms were left.
  await clock.advance(400)
  assert.not.ok(await isPending(disposing), 'given up on at the first deadline')
  const error = await failing
  const timeout = error.errors[0] as DisposeTimeoutError
  assert.instance(timeout, DisposeTimeoutError)
  assert.is(timeout.waitedFor, 'factory')
  assert.is(timeout.service, 'second')
  hung.resolve('late')
  await container.dispose()
})

disposeTimeout('disposeTimeoutMillis: 0 waits for good, as before', async () => {
  const clock = new ManualClock()
  const slow = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 0 }).scoped('slow', () => 'slow', { dispose: () => slow.promise })
  const scope = container.createScope()
  scope.resolve('slow')
  const disposing = scope.dispose()
  await clock.advance(3_600_000)
  assert.ok(await isPending(disposing))
  assert.is(clock.pendingTimers, 0)
  slow.resolve()
  await disposing
  await container.dispose()
})

disposeTimeout('the root container bounds its singletons disposers and its open scopes the same way', async () => {
  const clock = new ManualClock()
  const hung = deferred()
  const container = createServiceContainer({ clock, disposeTimeoutMillis: 2_000, onError: () => {} })
    .singleton('client', () => 'client', { dispose: () => hung.promise })
    .scoped('session', () => 'session', { dispose: () => hung.promise })
  container.resolve('client')
  container.createScope().resolve('session')
  const disposing = container.dispose()
  const failing = rejects(disposing, AggregateError)
  await clock.advance(2_000)
  assert.ok(await isPending(disposing), 'the open scope timed out; the singleton is next')
  await clock.advance(2_000)
  const error = await failing
  // The open scope's own failure comes first, as its AggregateError; then the singleton's.
  const [scopeFailure, singletonFailure] = error.errors as [AggregateError, DisposeTimeoutError]
  assert.is((scopeFailure.errors[0] as DisposeTimeoutError).service, 'session')
  assert.is(singletonFailure.service, 'client')
})

disposeTimeout('bad disposeTimeoutMillis and clock options are refused with their range', () => {
  for (const disposeTimeoutMillis of [-1, 1.5, Number.NaN, 2 ** 31, '100']) {
    const error = throwsError(() => createServiceContainer({ disposeTimeoutMillis } as never), InvalidOptionError)
    assert.is(error.option, 'disposeTimeoutMillis')
  }
  const error = throwsError(() => createServiceContainer({ clock: { now: () => 0 } } as never), InvalidOptionError)
  assert.is(error.option, 'clock')
  assert.match(error.message, 'a Clock (an object with `now`, `setTimeout` and `clearTimeout` functions)')
})

disposeTimeout('the deadline timer, left to fire, keeps no operation alive: not the one whose disposal armed it', async () => {
  // The system clock: what a Node timer keeps (the AsyncLocalStorage store it was set in) is the point.
  const container = createServiceContainer({ disposeTimeoutMillis: 60_000 }).scoped('held', () => ({}), { dispose: async () => undefined })
  const armedBy = await (async () => {
    const context = OperationContext.create('api', 'GET /first', { container })
    await context.run(async () => {
      context.get('held')
      await context.dispose()
    })
    return new WeakRef(context)
  })()
  assert.ok(await collected(armedBy), 'the first operation to dispose is held by the timer for as long as it waits')
  await container.dispose()
})

disposeTimeout.run()
