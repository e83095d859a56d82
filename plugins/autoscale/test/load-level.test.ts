import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { aggregate } from '../src/internal/aggregate.js'
import { LoadLevel } from '../src/internal/load-level.js'
import { window } from './_helpers/window.js'

/** Windows of a full pool of 56 connections whose queries hold a connection `useMillis`. */
const at56 = (useMillis: number, count: number) => Array.from({ length: count }, () => window(56, (1000 * 56) / useMillis))

/** A level back at 56 after an undone step, where the use time was `beforeMillis` until that step. */
function backAt56(beforeMillis: number): LoadLevel {
  const level = new LoadLevel()
  level.resize(56)
  level.resize(84)
  level.returnTo(56, aggregate(at56(beforeMillis, 2))!.meanUseMillis)
  level.resize(56)
  return level
}

/** Feeds the windows and returns the last reading of `shift`. */
function read(level: LoadLevel, windows: ReturnType<typeof at56>) {
  let shift: ReturnType<LoadLevel['shift']>
  for (const w of windows) {
    level.add(w)
    shift = level.shift(56)
    if (shift !== undefined) return shift.direction
  }
  return shift
}

const level = suite('LoadLevel')

level('reads a use time up by half at one size as heavier queries', () => {
  const fresh = new LoadLevel()
  fresh.resize(56)
  assert.is(read(fresh, [...at56(4, 4), ...at56(6.5, 4)]), 'heavier')
})

level('a shift carries the use times it compared, for the decision it leads to', () => {
  const fresh = new LoadLevel()
  fresh.resize(56)
  let shift: ReturnType<LoadLevel['shift']>
  for (const w of [...at56(4, 4), ...at56(6, 4)]) {
    fresh.add(w)
    shift ??= fresh.shift(56)
  }
  assert.equal(shift && { ...shift, useRatio: Math.round(shift.useRatio * 100) / 100, fromCheckoutsPerSecond: Math.round(shift.fromCheckoutsPerSecond) }, {
    direction: 'heavier',
    useRatio: 1.5,
    fromUseMillis: 4,
    fromCheckoutsPerSecond: 14_000,
    loopDelayMillis: 0,
  })
})

level('tells whether the windows since a heavier reading still show it, each a quarter above', () => {
  const fresh = new LoadLevel()
  fresh.resize(56)
  for (const w of at56(4, 4)) fresh.add(w)
  let shift: ReturnType<LoadLevel['shift']>
  for (const w of at56(6.5, 4)) {
    fresh.add(w)
    shift ??= fresh.shift(56)
  }
  assert.ok(shift !== undefined)
  for (const w of at56(6, 2)) fresh.add(w)
  assert.ok(fresh.stillHeavier(shift, 4))
  // One window back at 4.5 ms: the slowdown is ending.
  fresh.add(at56(4.5, 1)[0]!)
  assert.not.ok(fresh.stillHeavier(shift, 4))
})

level('back at a size after an undone step, heavier means heavier than before that step too', () => {
  // The first windows back ran light (4 ms); the use time settles at 6.5 ms, where it was before the
  // step (6 ms): no heavier load, so a knee found there is not forgotten.
  assert.is(read(backAt56(6), [...at56(4, 4), ...at56(6.5, 4)]), undefined)
  assert.is(read(backAt56(6), [...at56(4, 4), ...at56(9.5, 4)]), 'heavier')
})

level('back at a size after an undone step, lighter means lighter than before that step too', () => {
  // The first windows back still carry the step's cost (20 ms); 5 ms is where the use time was before it.
  assert.is(read(backAt56(5), [...at56(20, 4), ...at56(5, 4)]), undefined)
  assert.is(read(backAt56(5), [...at56(20, 4), ...at56(3, 4)]), 'lighter')
})

level('a baseline leaves out the windows in which this process stalled, and reaches back for steady ones', () => {
  const level = new LoadLevel()
  level.resize(42)
  const steady = window(42, 7000, { loopDelayMillis: 0.5 })
  const stall = window(42, 1500, { loopDelayMillis: 20 })
  for (const w of [steady, steady, steady, stall, steady]) level.add(w)
  const baseline = level.recent(4)!
  assert.is(baseline.windows, 4)
  assert.is(baseline.checkoutsPerSecond, 7000)
})

level('windows that carry the cost of new connections are no reference: heavier is read only from the windows after them', () => {
  // The pool fills its new connections fast, then their backends start slowly (the use time doubles), then
  // they have warmed up. Read against the first windows, that slow start would be heavier queries.
  const fresh = new LoadLevel()
  fresh.resize(56)
  for (const w of [...at56(4, 4), ...at56(8, 4)]) {
    fresh.add(w)
    fresh.warming()
    assert.is(fresh.shift(56), undefined)
  }
  assert.is(read(fresh, at56(4, 8)), undefined)
  assert.is(fresh.afterWarming().length, 8)
  // A load that does get heavier afterwards is read against the warmed-up windows.
  assert.is(read(fresh, at56(6.5, 4)), 'heavier')
})

level('a use time that rose with this process\'s event-loop delay making up half the rise is a slow machine, not heavier queries', () => {
  // 5.4 ms to 21.5 ms, 11.5 ms of it the loop's delay (measured on a machine at load average 11 to 15).
  const at95 = (useMillis: number, loopDelayMillis: number, count: number) =>
    Array.from({ length: count }, () => window(95, (1000 * 95) / useMillis, { loopDelayMillis }))
  const slow = new LoadLevel()
  slow.resize(95)
  let shift: ReturnType<LoadLevel['shift']>
  for (const w of [...at95(5.4, 0.5, 4), ...at95(21.5, 11.5, 8)]) {
    slow.add(w)
    shift ??= slow.shift(95)
  }
  assert.is(shift, undefined)
  // The same rise with the loop's delay a third of it: the queries got heavier.
  const heavier = new LoadLevel()
  heavier.resize(95)
  for (const w of [...at95(5.4, 0.5, 4), ...at95(21.5, 5.5, 4)]) {
    heavier.add(w)
    shift ??= heavier.shift(95)
  }
  assert.is(shift?.direction, 'heavier')
})

level.run()
