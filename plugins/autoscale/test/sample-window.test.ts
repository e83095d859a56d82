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

test.run()
