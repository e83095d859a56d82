import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, OperationAbortedError, PoolExhaustedError, PoolTimeoutError } from '../../src/index.js'
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

test('a deadline that passed while the operation waited for a connection is pool pressure; a client gone, or a deadline elsewhere, is not', () => {
  const deadline = new DOMException('The operation exceeded its deadline.', 'TimeoutError')
  const inQueue = new OperationAbortedError("acquire a connection from pool 'orders'", { cause: deadline, queued: true })
  assert.is(poolPressureCode(inQueue), 'ERR_OPERATION_ABORTED')
  assert.is(poolPressureCode(new Error('Could not load the order.', { cause: inQueue })), 'ERR_OPERATION_ABORTED')
  // The client went away while it waited: nobody reads the answer, and the service is not to blame.
  assert.is(poolPressureCode(new OperationAbortedError("acquire a connection from pool 'orders'", { cause: new DOMException('gone', 'AbortError'), queued: true })), undefined)
  // A statement that ran past the deadline: a slow query, not a busy pool.
  assert.is(poolPressureCode(new OperationAbortedError('run a query', { cause: deadline })), undefined)
})

test('mapErrors is a boolean or { retryAfterSeconds } only', () => {
  for (const good of [true, false, {}, { retryAfterSeconds: 0 }, { retryAfterSeconds: 30 }]) validateOptions('lifeguard', { mapErrors: good }, { mapErrors: mapErrorsRule })
  // The range is in the message; a number that would print as `1e+21` is refused too.
  for (const bad of [1, 'yes', [], { retryAfter: 2 }, { retryAfterSeconds: -1 }, { retryAfterSeconds: 1.5 }, { retryAfterSeconds: '2' }, { retryAfterSeconds: 1e21 }]) {
    const error = throwsError(() => validateOptions('lifeguard', { mapErrors: bad }, { mapErrors: mapErrorsRule }), Error, 'ERR_INVALID_OPTION')
    assert.is((error as InvalidOptionError).option, 'mapErrors')
    assert.match(error.message, 'expected `mapErrors` to be a boolean or { retryAfterSeconds: an integer between 0 and 2147483647 }')
  }
})

test('turns mapErrors into a Retry-After value', () => {
  assert.is(retryAfterFrom(undefined), undefined)
  assert.is(retryAfterFrom(false), undefined)
  assert.is(retryAfterFrom(true), '1')
  assert.is(retryAfterFrom({ retryAfterSeconds: 7 }), '7')
})

test.run()
