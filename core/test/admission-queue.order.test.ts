import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { AdmissionQueue } from '../src/adapter.js'
import { isPending, turn } from './_helpers/async.js'

const order = suite('AdmissionQueue admission order')

order('admits up to the limit at once and queues the rest', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 2 })
  await queue.acquire()
  await queue.acquire()
  const third = queue.acquire()
  assert.ok(await isPending(third))
  assert.is(queue.active, 2)
  assert.is(queue.waiting, 1)
  assert.is(queue.limit, 2)
  queue.release()
  await third
  assert.is(queue.active, 2)
  assert.is(queue.waiting, 0)
})

order('hands freed slots to waiters in FIFO order', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  await queue.acquire()
  const admitted: number[] = []
  const waiters = [1, 2, 3, 4].map((n) => queue.acquire().then(() => void admitted.push(n)))
  for (let i = 0; i < 4; i++) {
    queue.release()
    await turn()
    assert.equal(admitted, [1, 2, 3, 4].slice(0, i + 1))
    assert.is(queue.active, 1)
  }
  await Promise.all(waiters)
  queue.release()
  assert.is(queue.active, 0)
})

order('tryAcquire takes a free slot but never jumps the queue', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 1 })
  assert.ok(queue.tryAcquire())
  assert.not.ok(queue.tryAcquire())
  const waiter = queue.acquire()
  queue.release()
  // The slot went to the waiter, so a newcomer cannot take it.
  assert.not.ok(queue.tryAcquire())
  await waiter
  assert.is(queue.active, 1)
})

order('keeps the counts right under steady load (thousands of waiters)', async () => {
  const queue = new AdmissionQueue({ pool: 'orders', limit: 3 })
  let running = 0
  let peak = 0
  const work = Array.from({ length: 3000 }, async () => {
    await queue.acquire()
    running++
    peak = Math.max(peak, running)
    await turn()
    running--
    queue.release()
  })
  await Promise.all(work)
  assert.is(peak, 3)
  assert.is(queue.active, 0)
  assert.is(queue.waiting, 0)
})

order.run()
