import { createServiceContainer, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard, poolErrorHandler, type LifeguardOptions } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

const test = suite('lifeguard() and poolErrorHandler() check their options at construction')
const container = createServiceContainer()

test('returns a named middleware', () => {
  const middleware = lifeguard({ container })
  assert.is(middleware.name, 'lifeguardContext')
  assert.is(middleware.length, 3)
  assert.is(poolErrorHandler().name, 'lifeguardPoolErrors')
  assert.is(poolErrorHandler().length, 4)
})

test('rejects a missing or wrong container', () => {
  const error = throwsError(() => lifeguard({} as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'container')
  assert.match(error.message, 'expected `container` to be a ServiceContainer')
  throwsError(() => lifeguard({ container: container.createScope() as never }), InvalidOptionError, 'ERR_INVALID_OPTION')
})

test('rejects unknown keys and out-of-range values, naming the option', () => {
  const unknown = throwsError(() => lifeguard({ container, requestIdHeadr: 'x' } as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(unknown.message, 'unknown option `requestIdHeadr`')
  const deadline = throwsError(() => lifeguard({ container, deadlineMillis: 0 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.match(deadline.message, 'expected `deadlineMillis` to be an integer >= 1, got `0` (number)')
  const header = throwsError(() => lifeguard({ container, requestIdHeader: 'x request id' }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(header.option, 'requestIdHeader')
  throwsError(() => lifeguard({ container, handlerName: '' }), InvalidOptionError, 'ERR_INVALID_OPTION')
  throwsError(() => lifeguard({ container, abortGraceMillis: -1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  throwsError(() => poolErrorHandler({ retryAfterSeconds: 1.5 }), InvalidOptionError, 'ERR_INVALID_OPTION')
})

test('points mapErrors users to the error handler', () => {
  const error = throwsError(() => lifeguard({ container, mapErrors: true } as LifeguardOptions), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'mapErrors')
  assert.match(error.message, 'poolErrorHandler()')
})

test.run()
