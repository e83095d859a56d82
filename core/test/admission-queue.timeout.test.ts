import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, PoolExhaustedError, PoolTimeoutError, createServiceContainer } from '../src/index.js'
import { AdmissionQueue } from '../src/adapter.js'
import { isPending } from './_helpers/async.js'
import { collected, ManualClock, rejects } from '@lifeguard/test-kit'

const bounds = suite('AdmissionQueue bounded waiting')

bounds('rejects at once with PoolExhaustedError when maxWaiting requests already wait', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, maxWaiting: 2 })
  await queue.acquire()
  const first = queue.acquire()
  const second = queue.acquire()
  const error = await rejects(queue.acquire(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  assert.is(error.pool, 'orders')
  assert.is(error.maxWaitingRequests, 2)
  assert.match(error.message, "Could not acquire a connection from pool 'orders'. The pool is exhausted")
  assert.is(queue.waiting, 2)
  assert.ok(await isPending(first))
  queue.release()
  await first
  // A place in the queue is free again.
  const third = queue.acquire()
  assert.is(queue.waiting, 2)
  queue.release()
  queue.release()
  await Promise.all([second, third])
})

bounds('maxWaiting 0 rejects every request that would wait', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, maxWaiting: 0 })
  await queue.acquire()
  await rejects(queue.acquire(), PoolExhaustedError, 'ERR_POOL_EXHAUSTED')
  assert.is(queue.waiting, 0)
})

bounds('a waiter gives up with PoolTimeoutError after timeoutMillis on its clock, caused by the last error', async () => {
  const lastError = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  const clock = new ManualClock()
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 30, lastError: () => lastError, clock })
  await queue.acquire()
  const first = queue.acquire()
  await clock.advance(10)
  const second = queue.acquire()
  await clock.advance(19)
  assert.ok(await isPending(first), 'not before its 30 ms')
  await clock.advance(1)
  const error = await rejects(first, PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.is(error.cause, lastError)
  assert.is(error.pool, 'orders')
  assert.is(error.timeoutMillis, 30)
  assert.match(error.message, "Could not acquire a connection from pool 'orders'. Timed out after 30ms.")
  // The second waiter, queued 10 ms later, has 10 ms left.
  assert.ok(await isPending(second))
  assert.is(queue.waiting, 1)
  await clock.advance(10)
  await rejects(second, PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.is(queue.waiting, 0)
  assert.is(queue.active, 1)
  assert.is(clock.pendingTimers, 0)
})

bounds('a timeout without any recorded error has no cause, and says how many others waited', async () => {
  const clock = new ManualClock()
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 20, lastError: () => undefined, clock })
  await queue.acquire()
  const first = rejects(queue.acquire(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  const second = rejects(queue.acquire(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  await clock.advance(20)
  const error = await first
  assert.not.ok('cause' in error)
  assert.match(error.message, '1 other request(s) were waiting')
  assert.match((await second).message, '0 other request(s) were waiting')
})

bounds('a waiter admitted in time does not time out later, and leaves no timer', async () => {
  const clock = new ManualClock()
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 30, clock })
  await queue.acquire()
  const waiter = queue.acquire()
  assert.is(clock.foregroundTimers, 1, 'a waiter keeps the process alive, as any timer it waits on would')
  queue.release()
  await waiter
  assert.is(clock.pendingTimers, 0)
  await clock.advance(50)
  assert.is(queue.active, 1)
  queue.release()
})

bounds('a timed-out waiter never gets a slot later', async () => {
  const clock = new ManualClock()
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 10, clock })
  await queue.acquire()
  const waiter = rejects(queue.acquire(), PoolTimeoutError)
  await clock.advance(10)
  await waiter
  queue.release()
  assert.is(queue.active, 0)
  assert.ok(queue.tryAcquire())
})

bounds('without a clock, the wait runs on the process clock', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 1 })
  await queue.acquire()
  // A hang guard only: no speed is asserted.
  await rejects(queue.acquire(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
  assert.is(queue.waiting, 0)
})

bounds("the queue's timer keeps no operation alive: not the one whose wait armed it, once that one was served", async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 60_000 })
  await queue.acquire()
  const container = createServiceContainer()
  const later: Promise<void>[] = []
  const armedBy = await (async () => {
    const first = OperationContext.create('api', 'GET /first', { container })
    // The first wait arms the timer, inside its operation; the waits after it keep it armed once it is served.
    const served = first.run(() => queue.acquire(first.signal))
    later.push(queue.acquire(), queue.acquire())
    queue.release()
    await served
    queue.release()
    await first.dispose()
    return new WeakRef(first)
  })()
  await later[0]
  assert.is(queue.waiting, 1)
  assert.ok(await collected(armedBy), 'the operation whose wait armed the timer is held until it fires')
  queue.release()
  await later[1]
  queue.release()
  await container.dispose()
})

bounds.run()
