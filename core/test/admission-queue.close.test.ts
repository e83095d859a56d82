import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { PoolClosedError } from '../src/index.js'
import { AdmissionQueue } from '../src/adapter.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

const close = suite('AdmissionQueue close')

close('close rejects every waiter with PoolClosedError', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1, timeoutMillis: 60_000 })
  await queue.acquire()
  const waiters = [queue.acquire(), queue.acquire(new AbortController().signal)].map((waiter) => rejects(waiter, PoolClosedError, 'ERR_POOL_CLOSED'))
  queue.close()
  assert.is(queue.waiting, 0)
  for (const error of await Promise.all(waiters)) {
    assert.is(error.pool, 'orders')
    assert.is(error.message, "Could not acquire a connection from pool 'orders'. The pool is closed.")
  }
})

close('after close, acquire rejects and tryAcquire throws, even with free slots', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 2 })
  queue.close()
  const pending = queue.acquire()
  assert.instance(pending, Promise)
  await rejects(pending, PoolClosedError, 'ERR_POOL_CLOSED')
  throwsError(() => queue.tryAcquire(), PoolClosedError, 'ERR_POOL_CLOSED')
})

close('holders may still release after close', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  queue.close()
  queue.release()
  assert.is(queue.active, 0)
})

close.run()
