import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { TimeWindow } from '../src/adapter.js'

const window = suite('TimeWindow')

window('an empty window reports zeros', () => {
  const times = new TimeWindow(8)
  assert.is(times.count, 0)
  assert.is(times.mean, 0)
  assert.equal(times.summary(), { count: 0, sum: 0, mean: 0, p50: 0, p95: 0, p99: 0, max: 0 })
})

window('computes nearest-rank percentiles, mean and max of the samples', () => {
  const times = new TimeWindow(100)
  // Recorded out of order: the summary must sort numerically, not as strings.
  for (let i = 100; i >= 1; i--) times.record(i)
  assert.equal(times.summary(), { count: 100, sum: 5050, mean: 50.5, p50: 50, p95: 95, p99: 99, max: 100 })
  assert.is(times.mean, 50.5)
})

window('sorts numerically (9 < 10 < 100)', () => {
  const times = new TimeWindow(3)
  for (const millis of [100, 9, 10]) times.record(millis)
  const summary = times.summary()
  assert.is(summary.p50, 10)
  assert.is(summary.max, 100)
})

window('keeps fractional milliseconds', () => {
  const times = new TimeWindow(4)
  times.record(0.25)
  times.record(0.75)
  assert.is(times.mean, 0.5)
  assert.is(times.summary().max, 0.75)
})

window('wraps around: mean, percentiles and max cover only the most recent samples', () => {
  const times = new TimeWindow(4)
  for (const millis of [1000, 1000, 1000, 1000, 1, 2, 3, 4]) times.record(millis)
  const summary = times.summary()
  assert.is(summary.max, 4)
  assert.is(summary.mean, 2.5)
  assert.is(summary.p50, 2)
  assert.is(times.mean, 2.5)
})

window('wraps around in the middle: a partly overwritten window mixes old and new samples', () => {
  const times = new TimeWindow(4)
  for (const millis of [10, 20, 30, 40, 50, 60]) times.record(millis)
  const summary = times.summary()
  // The window now holds 30, 40, 50, 60.
  assert.is(summary.mean, 45)
  assert.is(summary.max, 60)
  assert.is(summary.p50, 40)
})

window('count and sum cover the whole lifetime, beyond the window', () => {
  const times = new TimeWindow(4)
  for (let i = 1; i <= 10; i++) times.record(i)
  const summary = times.summary()
  assert.is(times.count, 10)
  assert.is(summary.count, 10)
  assert.is(summary.sum, 55)
  assert.is(summary.mean, 8.5)
})

window('defaults to a window of 1024 samples', () => {
  const times = new TimeWindow()
  for (let i = 0; i < 1024; i++) times.record(1)
  times.record(1 + 1024)
  // With 1024 slots the first sample is overwritten by the last one.
  assert.is(times.summary().mean, (1023 + 1025) / 1024)
})

window.run()
