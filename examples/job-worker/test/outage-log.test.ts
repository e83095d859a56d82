import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { outageLog } from '../src/outage-log.js'

const test = suite("outageLog: a reconnecting connection's errors, without flooding the log")

function recorded(everyMillis: number) {
  const lines: string[] = []
  let now = 0
  const errors = outageLog((line) => lines.push(line), everyMillis, () => now)
  return { lines, errors, advance: (millis: number) => (now += millis) }
}

test('the first error of an outage is logged; the next ones only once a minute, with their count; the recovery once', () => {
  const { lines, errors, advance } = recorded(60_000)
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:6379')
  for (let i = 0; i < 200; i++) {
    errors.failed(refused)
    advance(250)
  }
  // 200 errors over 50 s: one line.
  assert.equal(lines, ['worker error: connect ECONNREFUSED 127.0.0.1:6379'])
  advance(10_000)
  errors.failed(refused)
  assert.equal(lines.slice(1), ['worker error: connect ECONNREFUSED 127.0.0.1:6379 (201 errors since the first)'])
  errors.recovered()
  errors.recovered()
  assert.equal(lines.slice(2), ['worker connection back after 201 error(s)'])
})

test('a new outage starts over; a ready connection with no outage says nothing', () => {
  const { lines, errors } = recorded(60_000)
  errors.recovered()
  assert.equal(lines, [])
  errors.failed(new Error('first'))
  errors.recovered()
  errors.failed(new Error('second'))
  assert.equal(lines, ['worker error: first', 'worker connection back after 1 error(s)', 'worker error: second'])
})

test.run()
