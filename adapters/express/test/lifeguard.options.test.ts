import { createServiceContainer, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard, poolErrorHandler, type LifeguardOptions } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

// The options every adapter shares are checked by the conformance suite; these are Express's own.
const test = suite("Express's own options: abortGraceMillis, poolErrorHandler(), and no mapErrors")
const container = createServiceContainer()

test('both middlewares have the arity Express tells them apart by', () => {
  assert.is(lifeguard({ container }).length, 3)
  assert.is(poolErrorHandler().name, 'lifeguardPoolErrors')
  assert.is(poolErrorHandler().length, 4)
})

test('abortGraceMillis is a duration a timer can honour: 0 to 2^31-1 ms', () => {
  lifeguard({ container, abortGraceMillis: 0 })
  lifeguard({ container, abortGraceMillis: 2 ** 31 - 1 })
  for (const bad of [-1, 1.5, 2 ** 32]) {
    const error = throwsError(() => lifeguard({ container, abortGraceMillis: bad }), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'abortGraceMillis')
    assert.match(error.message, `expected \`abortGraceMillis\` to be an integer number of milliseconds between 0 and 2147483647, got \`${bad}\` (number)`)
  }
})

test('poolErrorHandler() checks retryAfterSeconds', () => {
  const error = throwsError(() => poolErrorHandler({ retryAfterSeconds: 1.5 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'retryAfterSeconds')
})

test('points mapErrors users to the error handler', () => {
  const error = throwsError(() => lifeguard({ container, mapErrors: true } as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'mapErrors')
  assert.match(error.message, 'poolErrorHandler()')
})

test.run()
