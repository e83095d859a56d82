import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationAbortedError, OperationContext, PoolTimeoutError, createServiceContainer } from '../src/index.js'
import { fakeEngine } from './_helpers/fake-factory.js'
import { collected, rejects } from '@lifeguard/test-kit'

const test = suite('PoolEngine queue: who a timeout is reported in, and what a queue keeps of waiters that left')

test('a timeout is reported in the operation that waited, and a wait outside any operation in none', async () => {
  const { engine, clock, monitor } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const seenIn: (string | undefined)[] = []
  monitor.events.on('timeout', () => void seenIn.push(OperationContext.tryCurrent()?.requestId ?? 'none'))
  const container = createServiceContainer()
  const first = OperationContext.create('api', 'GET /a', { container, requestId: 'request-a' })
  const other = OperationContext.create('api', 'GET /b', { container, requestId: 'request-b' })
  const holder = await engine.acquire(undefined)
  const waits = [rejects(engine.acquire(first), PoolTimeoutError), rejects(engine.acquire(undefined), PoolTimeoutError)]
  // The queue's timer fires inside whatever operation happens to be current: here, a third one.
  await other.run(() => clock.advance(100))
  await Promise.all(waits)
  assert.equal(seenIn, ['request-a', 'none'])
  engine.release(holder)
  await Promise.all([first.dispose(), other.dispose(), container.dispose()])
})

/** Starts a wait in an operation of its own that leaves the queue by `leave`; returns a weak reference to that operation. */
async function waitThatLeaves(engine: ReturnType<typeof fakeEngine>['engine'], leave: 'timeout' | 'abort', advance: () => Promise<void>): Promise<WeakRef<OperationContext>> {
  const container = createServiceContainer()
  const controller = new AbortController()
  const context = OperationContext.create('api', `GET /${leave}`, { container, signal: controller.signal })
  const waiting = engine.acquire(context)
  const left = leave === 'abort' ? rejects(waiting, OperationAbortedError) : rejects(waiting, PoolTimeoutError)
  if (leave === 'abort') controller.abort()
  else await advance()
  await left
  await context.dispose()
  await container.dispose()
  return new WeakRef(context)
}

test('a waiter that timed out is not kept while the connection stays taken and others still wait', async () => {
  const { engine, clock } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const holder = await engine.acquire(undefined)
  const leaving = waitThatLeaves(engine, 'timeout', async () => {
    await clock.advance(50)
    // A later waiter keeps the queue from ever emptying (a leaked checkout, an outage).
    still = engine.acquire(undefined)
    await clock.advance(50)
  })
  let still: Promise<unknown> | undefined
  const reference = await leaving
  assert.is(engine.waitingCount, 1)
  assert.ok(await collected(reference), 'the operation that timed out is still referenced by the queue')
  engine.release(holder)
  engine.release((await still) as typeof holder)
})

test('a waiter that aborted is not kept once nobody waits, while the connection stays taken', async () => {
  const { engine, clock } = fakeEngine({ maxSize: 1, acquireTimeoutMillis: 100 })
  const holder = await engine.acquire(undefined)
  const reference = await waitThatLeaves(engine, 'abort', () => clock.advance(0))
  assert.is(engine.waitingCount, 0)
  assert.ok(await collected(reference), 'the operation that aborted is still referenced by the queue')
  engine.release(holder)
})

test.run()
