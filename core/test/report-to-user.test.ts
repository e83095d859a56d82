import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { reportToUser } from '../src/adapter.js'
import { captureWarnings } from '@lifeguard/test-kit'

const test = suite('reportToUser')

const code = 'LIFEGUARD_TEST_ON_ERROR_FAILED'

test('hands the error to onError, and nothing more when it succeeds', async () => {
  const seen: unknown[] = []
  const warnings = await captureWarnings(() => reportToUser((error) => void seen.push(error), new Error('pool down'), 'the test', code))
  assert.equal(seen.map((error) => (error as Error).message), ['pool down'])
  assert.equal(warnings, [])
})

test('an onError that throws, or rejects, becomes one warning naming the owner and what it was reporting', async () => {
  const warnings = await captureWarnings(async () => {
    reportToUser(() => {
      throw new Error('logger down')
    }, new Error('pool down'), 'the test', code)
    reportToUser(async () => Promise.reject(new Error('async logger down')), new Error('pool gone'), 'the test', code)
    await new Promise((resolve) => setImmediate(resolve))
  })
  assert.equal(
    warnings.map((warning) => [warning.code, warning.message]),
    [
      [code, 'The onError of the test failed: logger down. It was reporting: pool down'],
      [code, 'The onError of the test failed: async logger down. It was reporting: pool gone'],
    ],
  )
})

test('never throws, even for a failure without a string form', async () => {
  const strange = Object.create(null) as object
  const warnings = await captureWarnings(async () => {
    assert.not.throws(() =>
      reportToUser(() => {
        throw strange
      }, strange, 'the test', code),
    )
    reportToUser(async () => Promise.reject(strange), new Error('pool down'), 'the test', code)
    await new Promise((resolve) => setImmediate(resolve))
  })
  assert.is(warnings.length, 2)
  assert.match(warnings[0]?.message ?? '', 'a value without a string form (object)')
})

test.run()
