import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { OperationContext, createServiceContainer } from '../src/index.js'

// The deadline is read on the monotonic clock, so these tests move that clock (and the wall clock) by hand
// instead of sleeping: `performance.now()` and `Date.now()` are stepped and put back within each test.
const deadline = suite('OperationContext deadline clock and how an operation ended')

const container = createServiceContainer()
deadline.after(async () => {
  await container.dispose()
})

function stepped<T>(target: { now(): number }, millis: number, body: () => T): T {
  const real = target.now
  target.now = () => real.call(target) + millis
  try {
    return body()
  } finally {
    // `performance.now` lives on the prototype (an own stub is deleted); `Date.now` is Date's own.
    if (target === performance) Reflect.deleteProperty(performance, 'now')
    else target.now = real
  }
}

deadline('a wall-clock step forward does not fire a deadline', async () => {
  const context = OperationContext.create('api', 'GET /slow', { container, deadlineMillis: 60_000 })
  stepped(Date, 3_600_000, () => {
    assert.is(context.aborted, false)
    assert.is(context.signal.aborted, false)
  })
  await context.dispose()
  assert.is(context.aborted, false)
})

deadline('a wall-clock step backward does not push a deadline out', async () => {
  const context = OperationContext.create('api', 'GET /slow', { container, deadlineMillis: 30 })
  stepped(Date, -3_600_000, () =>
    stepped(performance, 31, () => {
      assert.is(context.aborted, true)
      assert.is(context.signal.aborted, true)
      assert.is((context.signal.reason as DOMException).name, 'TimeoutError')
    }),
  )
  await context.dispose()
})

deadline('a deadline passed while the signal was never read: still aborted after dispose()', async () => {
  const context = OperationContext.create('api', 'GET /slow', { container, deadlineMillis: 20 })
  await stepped(performance, 21, async () => {
    assert.is(context.aborted, true)
    const disposing = context.dispose()
    assert.is(context.aborted, true)
    await disposing
  })
  assert.is(context.aborted, true, 'aborted does not flip back once the clock is put back either')
  assert.is(context.signal.aborted, true, 'a signal first read after dispose() says the same')
  assert.is((context.signal.reason as DOMException).name, 'TimeoutError')
})

deadline("a caller's abort while the signal was never read: still aborted after dispose(), with its reason", async () => {
  const parent = new AbortController()
  const context = OperationContext.create('api', 'GET /orders', { container, signal: parent.signal })
  const reason = new Error('client went away')
  parent.abort(reason)
  assert.is(context.aborted, true)
  await context.dispose()
  assert.is(context.aborted, true)
  assert.is(context.signal.reason, reason)
})

deadline('reading the signal or not ends the same way', async () => {
  const read = OperationContext.create('api', 'GET /slow', { container, deadlineMillis: 20 })
  const unread = OperationContext.create('api', 'GET /slow', { container, deadlineMillis: 20 })
  void read.signal
  await stepped(performance, 21, () => Promise.all([read.dispose(), unread.dispose()]))
  assert.equal([read.aborted, unread.aborted], [true, true], 'the deadline passed while both ran')
  assert.equal([read.signal.aborted, unread.signal.aborted], [true, true])
})

deadline.run()
