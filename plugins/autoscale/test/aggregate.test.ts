import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate, withoutStalls } from '../src/internal/aggregate.js'
import { window } from './_helpers/window.js'

const test = suite('aggregate')

test('reads several windows as one: rates over their whole time, use times over their checkouts', () => {
  const both = aggregate([window(10, 1000), window(10, 3000, { millis: 300 })])!
  assert.is(both.windows, 2)
  assert.is(both.millis, 400)
  assert.is(both.checkouts, 1000)
  assert.is(both.checkoutsPerSecond, 2500)
  // 100 checkouts of 10 ms and 900 of 3.33 ms.
  assert.ok(Math.abs(both.meanUseMillis - 4) < 1e-9, String(both.meanUseMillis))
  assert.is(aggregate([]), undefined)
  assert.is(aggregate([window(10, 0)]), undefined)
})

test('takes each window`s event-loop delay off that window`s checkouts only', () => {
  const calm = window(95, 9400, { loopDelayMillis: 1.2 }) // 10.1 ms of use, 8.9 of it the database's
  const stall = window(95, 2200, { loopDelayMillis: 30, millis: 50 }) // 43.2 ms of use, few checkouts
  const both = aggregate([calm, calm, stall])!
  const calmServer = calm.stats.meanUseMillis - 1.2
  const stallServer = stall.stats.meanUseMillis - 30
  const expected = (calmServer * 2 * calm.stats.checkouts + stallServer * stall.stats.checkouts) / both.checkouts
  assert.ok(Math.abs(both.serverUseMillis - expected) < 1e-9, `${both.serverUseMillis} vs ${expected}`)
  // The stall's 30 ms, spread over the time of all three windows, would have taken 7 ms off every checkout.
  assert.ok(both.serverUseMillis > calmServer, `${both.serverUseMillis}`)
  assert.ok(Math.abs(both.meanLoopDelayMillis - (1.2 * 200 + 30 * 50) / 250) < 1e-9, 'the mean delay itself stays time-weighted')
})

test('weighs each window`s event-loop utilization by its time; a window that did not measure it counts as idle', () => {
  const busy = window(10, 1000, { loopUtilization: 0.95, millis: 300 })
  const quiet = window(10, 1000, { loopUtilization: 0.15 })
  assert.ok(Math.abs(aggregate([busy, quiet])!.meanLoopUtilization - (0.95 * 300 + 0.15 * 100) / 400) < 1e-9)
  assert.is(aggregate([window(10, 1000)])!.meanLoopUtilization, 0)
})

test('never takes more than three quarters of a window`s use time', () => {
  const stalled = aggregate([window(10, 1000, { loopDelayMillis: 50 })])!
  assert.is(stalled.meanUseMillis, 10)
  assert.is(stalled.serverUseMillis, 2.5)
})

test('leaves out the windows whose event-loop delay stands out from the others`', () => {
  const calm = window(20, 2000, { loopDelayMillis: 0.4 })
  const stall = window(20, 600, { loopDelayMillis: 25 })
  assert.equal(withoutStalls([calm, stall, calm, calm]), [calm, calm, calm])
  // Two windows have no median to stand out from.
  assert.equal(withoutStalls([calm, stall]), [calm, stall])
  // Sub-millisecond jitter on a quiet process is no stall, however many times the median it is.
  const jitter = window(20, 2000, { loopDelayMillis: 1.5 })
  const still = window(20, 2000, { loopDelayMillis: 0.1 })
  assert.equal(withoutStalls([still, jitter, still, still]), [still, jitter, still, still])
  // Slow throughout (a busy neighbour): nothing stands out, nothing is left out.
  const busy = [5, 9, 14, 7].map((loopDelayMillis) => window(20, 1500, { loopDelayMillis }))
  assert.equal(withoutStalls(busy), busy)
  // A stall stands out from a busy process too, by the same ratio.
  const busyStall = window(20, 400, { loopDelayMillis: 60 })
  assert.equal(withoutStalls([...busy, busyStall]), busy)
})

test.run()
