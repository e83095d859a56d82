import { createServiceContainer, InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { ConformanceOptions, FrameworkDriver } from '../driver.js'

function refused(driver: FrameworkDriver, options: unknown): InvalidOptionError {
  try {
    driver.lifeguard(options as ConformanceOptions)
  } catch (error) {
    assert.instance(error, InvalidOptionError)
    assert.is((error as InvalidOptionError).code, 'ERR_INVALID_OPTION')
    return error as InvalidOptionError
  }
  assert.unreachable(`lifeguard() accepted ${JSON.stringify(options)}`)
  throw new Error('unreachable')
}

/** `lifeguard()` checks the shared options when it is called, naming the bad one. */
export function optionsSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: lifeguard() checks its options at construction`)
  const container = createServiceContainer()

  test('returns a named middleware', () => {
    assert.is(driver.lifeguard({ container }).name, 'lifeguardContext')
  })

  test('refuses a missing or wrong container', () => {
    for (const bad of [{}, { container: {} }, { container: container.createScope() }, undefined]) assert.is(refused(driver, bad).option, 'container')
    assert.match(refused(driver, {}).message, 'expected `container` to be a ServiceContainer')
  })

  test('refuses unknown keys and bad values, naming the option, the value and the range', () => {
    assert.match(refused(driver, { container, handlr: 'x' }).message, 'unknown option `handlr`')
    const cases: [string, unknown, string][] = [
      ['deadlineMillis', 2 ** 32, 'expected `deadlineMillis` to be an integer number of milliseconds between 1 and 2147483647, got `4294967296` (number)'],
      ['deadlineMillis', 0, 'got `0` (number)'],
      ['deadlineMillis', 1.5, 'got `1.5` (number)'],
      ['requestIdHeader', 'x request id', 'expected `requestIdHeader` to be an HTTP header name'],
      ['handlerName', '', 'expected `handlerName` to be a non-empty string'],
      ['operationName', 'GET /', 'expected `operationName` to be a function'],
    ]
    // Express takes no `mapErrors` (it has `poolErrorHandler()`), the others refuse a bad one: both name it.
    assert.is(refused(driver, { container, mapErrors: { retryAfter: 2 } }).option, 'mapErrors')
    for (const [option, value, message] of cases) {
      const error = refused(driver, { container, [option]: value })
      assert.is(error.option, option)
      assert.match(error.message, `Invalid options for lifeguard: expected \`${option}\``)
      assert.match(error.message, message)
    }
  })

  test.run()
}
