import { getEventListeners } from 'node:events'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationAbortedError } from '../src/index.js'
import { AdmissionQueue } from '../src/adapter.js'
import { collected, rejects } from '@lifeguard/test-kit'

const abort = suite('AdmissionQueue abortable waits')

abort('an aborted waiter leaves the queue at once and its waiting count drops immediately', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const controller = new AbortController()
  const leaving = queue.acquire(controller.signal)
  const staying = queue.acquire()
  assert.is(queue.waiting, 2)
  const reason = new Error('client went away')
  controller.abort(reason)
  assert.is(queue.waiting, 1)
  const error = await rejects(leaving, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(error.cause, reason)
  assert.ok(error.queued, 'it ended a wait for a slot')
  assert.is(error.message, "Could not acquire a connection from pool 'orders'. The operation was aborted.")
  queue.release()
  await staying
  assert.is(queue.active, 1)
  assert.is(queue.waiting, 0)
})

abort('aborted waiters are not kept while the slot stays taken and a later waiter still waits', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const abortOne = async (): Promise<WeakRef<AbortSignal>> => {
    const controller = new AbortController()
    const leaving = rejects(queue.acquire(controller.signal), OperationAbortedError)
    controller.abort()
    await leaving
    return new WeakRef(controller.signal)
  }
  const first = await abortOne()
  const staying = queue.acquire()
  const second = await abortOne()
  assert.is(queue.waiting, 1)
  assert.ok(await collected(first), 'the first aborted wait (at the head) is still referenced by the queue')
  queue.release()
  await staying
  assert.ok(await collected(second), 'the aborted wait behind the one served is still referenced by the queue')
  queue.release()
})

abort('an aborted waiter never gets a slot later, even when it was first in line', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const controller = new AbortController()
  const aborted = queue.acquire(controller.signal)
  controller.abort()
  await rejects(aborted, OperationAbortedError)
  queue.release()
  assert.is(queue.active, 0)
  queue.setLimit(5)
  assert.is(queue.active, 0)
  assert.ok(queue.tryAcquire())
})

abort('an already aborted signal is rejected without queueing', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const reason = new DOMException('deadline', 'TimeoutError')
  const error = await rejects(queue.acquire(AbortSignal.abort(reason)), OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.not.ok(error.queued)
  assert.is(queue.waiting, 0)
})

abort('an admitted waiter stops listening to its signal', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const controller = new AbortController()
  const waiter = queue.acquire(controller.signal)
  queue.release()
  await waiter
  controller.abort()
  assert.is(queue.active, 1)
  assert.is(queue.waiting, 0)
})

abort('adds one abort listener per signal however often its operation waits', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 1000 })
  const controller = new AbortController()
  assert.ok(queue.tryAcquire())
  for (let i = 0; i < 50; i++) {
    const waiting = queue.acquire(controller.signal)
    queue.release()
    await waiting
  }
  assert.is(getEventListeners(controller.signal, 'abort').length, 1)
  const last = queue.acquire(controller.signal)
  controller.abort()
  await rejects(last, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  assert.is(queue.waiting, 0)
})

abort.run()
