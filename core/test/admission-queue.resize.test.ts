import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdmissionQueue } from '../src/adapter.js'
import { isPending } from './_helpers/async.js'

const resize = suite('AdmissionQueue setLimit')

resize('growing the limit admits waiters at once, oldest first', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const admitted: string[] = []
  const a = queue.acquire().then(() => void admitted.push('a'))
  const b = queue.acquire().then(() => void admitted.push('b'))
  const c = queue.acquire().then(() => void admitted.push('c'))
  queue.setLimit(3)
  await Promise.all([a, b])
  assert.equal(admitted, ['a', 'b'])
  assert.ok(await isPending(c))
  assert.is(queue.limit, 3)
  assert.is(queue.active, 3)
  assert.is(queue.waiting, 1)
  queue.release()
  await c
})

resize('shrinking the limit keeps current holders and applies as they release', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 3 })
  await Promise.all([queue.acquire(), queue.acquire(), queue.acquire()])
  queue.setLimit(1)
  assert.is(queue.active, 3)
  const waiter = queue.acquire()
  queue.release()
  assert.ok(await isPending(waiter), 'two holders left, limit 1: no admission')
  queue.release()
  assert.ok(await isPending(waiter), 'one holder left, limit 1: no admission')
  queue.release()
  await waiter
  assert.is(queue.active, 1)
  assert.not.ok(queue.tryAcquire())
})

resize.run()
