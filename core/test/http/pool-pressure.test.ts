import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, PoolExhaustedError, PoolTimeoutError } from '../../src/index.js'
import { validateOptions } from '../../src/adapter.js'
import { mapErrorsRule, poolPressureBody, poolPressureCode, retryAfterFrom } from '../../src/http.js'
import { throwsError } from '@lifeguard/test-kit'

const test = suite('pool pressure maps to 503 by code, with a Retry-After the option asks for')

test('finds pool pressure in an error or its causes, by code', () => {
  assert.is(poolPressureCode(new PoolExhaustedError('orders', 5)), 'ERR_POOL_EXHAUSTED')
  assert.is(poolPressureCode(new Error('factory failed', { cause: new PoolTimeoutError('orders', 100) })), 'ERR_POOL_TIMEOUT')
  assert.is(poolPressureCode(new Error('other')), undefined)
  assert.is(poolPressureCode('not an error'), undefined)
  assert.equal(poolPressureBody('ERR_POOL_TIMEOUT'), { error: { code: 'ERR_POOL_TIMEOUT', message: 'The service is busy. Retry later.' } })
})

test('mapErrors is a boolean or { retryAfterSeconds } only', () => {
  for (const good of [true, false, {}, { retryAfterSeconds: 0 }, { retryAfterSeconds: 30 }]) validateOptions('lifeguard', { mapErrors: good }, { mapErrors: mapErrorsRule })
  for (const bad of [1, 'yes', [], { retryAfter: 2 }]) {
    const error = throwsError(() => validateOptions('lifeguard', { mapErrors: bad }, { mapErrors: mapErrorsRule }), Error, 'ERR_INVALID_OPTION')
    assert.match(error.message, 'expected `mapErrors` to be a boolean or { retryAfterSeconds }')
  }
  // A bad number is named with the value and its range; one that would print as `1e+21` is refused too.
  for (const [bad, shown] of [[-1, '-1'], [1.5, '1.5'], ['2', '"2"'], [1e21, '1e+21']] as const) {
    const error = throwsError(() => validateOptions('lifeguard', { mapErrors: { retryAfterSeconds: bad } }, { mapErrors: mapErrorsRule }), Error, 'ERR_INVALID_OPTION')
    assert.is((error as InvalidOptionError).option, 'mapErrors.retryAfterSeconds')
    assert.match(error.message, `expected \`mapErrors.retryAfterSeconds\` to be an integer between 0 and 2147483647, got \`${shown}\``)
  }
})

test('turns mapErrors into a Retry-After value', () => {
  assert.is(retryAfterFrom(undefined), undefined)
  assert.is(retryAfterFrom(false), undefined)
  assert.is(retryAfterFrom(true), '1')
  assert.is(retryAfterFrom({ retryAfterSeconds: 7 }), '7')
})

test.run()
