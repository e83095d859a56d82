import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { RepeatedFailures } from '../src/internal/repeated-failures.js'
import { ManualClock } from './_helpers/manual-clock.js'

test('the same failure is new once every 10 s; failures that differ in code or cause are each new', () => {
  const clock = new ManualClock()
  const repeats = new RepeatedFailures(clock, 10_000)
  const refused = () => new Error('count failed', { cause: Object.assign(new Error('connect'), { code: 'ECONNREFUSED' }) })
  const denied = () => new Error('count failed', { cause: Object.assign(new Error('connect'), { code: '28P01' }) })
  assert.ok(repeats.isNew(refused()))
  assert.not.ok(repeats.isNew(refused()), 'a repeat within 10 s')
  assert.ok(repeats.isNew(denied()), 'the same words with another cause is news')
  assert.ok(repeats.isNew({ code: 'EAUTH' }))
  assert.ok(repeats.isNew({ code: 'ECONNREFUSED' }), 'two plain objects are told apart by what they hold')
  clock.advance(10_000)
  assert.ok(repeats.isNew(refused()), 'again after 10 s')
})

test.run()
