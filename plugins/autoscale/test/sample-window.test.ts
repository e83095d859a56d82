import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { SampleWindow } from '../src/internal/sample-window.js'

const sample = (total: number, active: number, idle: number) => ({
  totalConnections: total,
  activeConnections: active,
  idleConnections: idle,
  waitingRequests: 0,
  maxSize: 10,
  waitTime: { count: 0, sum: 0 },
  useTime: { count: 0, sum: 0 },
})

test('counts the connections still being opened: open or opening, less those checked out or idle', () => {
  const window = new SampleWindow()
  window.add(0, sample(10, 6, 1))
  window.add(25, sample(10, 8, 2))
  assert.is(window.close()?.meanOpening, 1.5)
  // All open: a window with none being opened reads 0.
  window.add(50, sample(10, 8, 2))
  assert.is(window.close()?.meanOpening, 0)
})

test('a window with a sample over a second late, and over four times the usual gap, is stalled; a slow even pace is not', () => {
  const timed = new SampleWindow()
  for (let at = 0; at <= 500; at += 25) timed.add(at, sample(10, 8, 2))
  assert.is(timed.close()?.stalled, false)
  timed.add(3_500, sample(10, 8, 2)) // the process stalled for 3 s
  timed.add(3_525, sample(10, 8, 2))
  assert.is(timed.close()?.stalled, true)
  timed.add(3_550, sample(10, 8, 2))
  assert.is(timed.close()?.stalled, false, 'the next window is judged on its own')
  // A pace that turns slower for good (samples by hand, every 5 s from now on) is a stall twice, then the pace.
  const slower = [5_550, 10_550, 15_550, 20_550].map((at) => {
    timed.add(at, sample(10, 8, 2))
    return timed.close()?.stalled
  })
  assert.equal(slower, [true, true, false, false])
  // Samples taken by hand every 5 s: that is the pace, not a stall.
  const byHand = new SampleWindow()
  for (let at = 0; at <= 30_000; at += 5_000) {
    byHand.add(at, sample(10, 8, 2))
    if (at > 0) assert.is(byHand.close()?.stalled, false, `at ${at}`)
  }
})

test.run()
