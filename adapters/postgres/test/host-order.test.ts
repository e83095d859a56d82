import { ManualClock } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { HOST_RECHECK_MILLIS, HostOrder } from '../src/internal/host-order.js'

const test = suite('HostOrder: which server to try first')

test('tries the hosts in the order given while none has failed', () => {
  const order = new HostOrder(['a', 'b', 'c'], new ManualClock())
  assert.equal(order.order(), ['a', 'b', 'c'])
  order.record('a', true)
  assert.equal(order.order(), ['a', 'b', 'c'])
})

test('a host that failed or did not match goes last for HOST_RECHECK_MILLIS, then back to its place', async () => {
  const clock = new ManualClock()
  const order = new HostOrder(['a', 'b', 'c'], clock)
  order.record('a', false)
  assert.equal(order.order(), ['b', 'c', 'a'])
  await clock.advance(HOST_RECHECK_MILLIS / 2)
  order.record('b', false)
  assert.equal(order.order(), ['c', 'a', 'b'], 'demoted hosts keep their own order')
  await clock.advance(HOST_RECHECK_MILLIS / 2)
  assert.equal(order.order(), ['a', 'c', 'b'])
  order.record('b', true)
  assert.equal(order.order(), ['a', 'b', 'c'], 'a match clears the record at once')
})

test.run()
