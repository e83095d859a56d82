import { createServiceContainer, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard, type LifeguardOptions } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const test = suite('lifeguard() checks its options at construction')
const container = createServiceContainer()

test('returns a named middleware', () => {
  assert.is(lifeguard({ container }).name, 'lifeguardContext')
})

test('rejects a missing or wrong container', () => {
  const error = throwsError(() => lifeguard({} as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'container')
  assert.match(error.message, 'expected `container` to be a ServiceContainer')
})

test('rejects unknown keys and out-of-range values, naming the option', () => {
  const unknown = throwsError(() => lifeguard({ container, handler: 'x' } as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(unknown.message, 'unknown option `handler`')
  const deadline = throwsError(() => lifeguard({ container, deadlineMillis: 1.5 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(deadline.message, 'expected `deadlineMillis` to be an integer >= 1, got `1.5` (number)')
  throwsError(() => lifeguard({ container, requestIdHeader: 'x:id' }), InvalidOptionError, 'ERR_INVALID_OPTION')
  throwsError(() => lifeguard({ container, operationName: 'GET /' as never }), InvalidOptionError, 'ERR_INVALID_OPTION')
})

test('accepts mapErrors as a boolean or { retryAfterSeconds } only', () => {
  lifeguard({ container, mapErrors: true })
  lifeguard({ container, mapErrors: { retryAfterSeconds: 0 } })
  const bad = throwsError(() => lifeguard({ container, mapErrors: { retryAfter: 2 } as never }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(bad.option, 'mapErrors')
  throwsError(() => lifeguard({ container, mapErrors: { retryAfterSeconds: -1 } }), InvalidOptionError, 'ERR_INVALID_OPTION')
})

test.run()
