import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, RegistrationError, ServiceContainer, createServiceContainer } from '../src/index.js'
import { throwsError, captureWarnings } from '@lifeguard/test-kit'

const options = suite('ServiceContainer options and registrations')

options('createServiceContainer accepts no options, an empty bag or an onError hook', () => {
  assert.instance(createServiceContainer(), ServiceContainer)
  assert.instance(createServiceContainer({}), ServiceContainer)
  assert.instance(createServiceContainer({ onError: () => {} }), ServiceContainer)
})

options('createServiceContainer rejects bad options with InvalidOptionError naming the option', () => {
  const cases: [unknown, string, string][] = [
    [{ onError: 'log' }, 'onError', 'expected `onError` to be a function, got `"log"` (string).'],
    [{ onErorr: () => {} }, 'onErorr', 'unknown option `onErorr`. Known options: `onError`, `disposeTimeoutMillis`, `clock`.'],
    [null, 'options', 'expected an object, got `null`.'],
    ['strict', 'options', 'expected an object'],
  ]
  for (const [bad, option, message] of cases) {
    const error = throwsError(() => createServiceContainer(bad as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, option)
    assert.match(error.message, `Invalid options for createServiceContainer: ${message}`)
  }
})

options('registrations reject a factory that is not a function', () => {
  const container = createServiceContainer()
  for (const register of [container.singleton, container.scoped, container.transient]) {
    const error = throwsError(() => register.call(container, 'repo', 'not a factory' as never), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'factory')
    assert.match(error.message, "Invalid options for container.")
    assert.match(error.message, "('repo'): expected `factory` to be a function")
  }
  assert.equal(container.names(), [])
})

options('registrations reject a bad dispose option and unknown option keys', () => {
  const container = createServiceContainer()
  const wrongType = throwsError(() => container.scoped('repo', () => ({}), { dispose: 'close' as never }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(wrongType.option, 'dispose')
  assert.match(wrongType.message, "Invalid options for container.scoped('repo'): expected `dispose` to be a function, got `\"close\"` (string).")
  const unknown = throwsError(() => container.singleton('pool', () => ({}), { disposer: () => {} } as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(unknown.option, 'disposer')
  assert.match(unknown.message, 'unknown option `disposer`. Known options: `dispose`.')
  assert.equal(container.names(), [])
})

options('a duplicate or empty name is a RegistrationError', () => {
  const container = createServiceContainer().singleton('db', () => ({}))
  const duplicate = throwsError(() => container.scoped('db', () => ({})), RegistrationError, 'ERR_REGISTRATION')
  assert.is(duplicate.message, "Could not register 'db'. A service with that name is already registered.")
  throwsError(() => container.value('db', 1), RegistrationError, 'ERR_REGISTRATION')
  const empty = throwsError(() => container.value('', 1), RegistrationError, 'ERR_REGISTRATION')
  assert.match(empty.message, 'Could not register a service. Expected a non-empty string name')
  throwsError(() => container.singleton(42 as never, () => 1), RegistrationError, 'ERR_REGISTRATION')
})

options('reportError hands failures to onError and never throws', () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) })
  const failure = new Error('late disposal failure')
  container.reportError(failure)
  assert.equal(reported, [failure])
})

options('without onError, or when onError throws, failures become process warnings', async () => {
  const warnings = await captureWarnings(() => {
    createServiceContainer().reportError(new Error('nobody listens'))
    createServiceContainer({
      onError: () => {
        throw new Error('hook bug')
      },
    }).reportError(new Error('lost'))
  })
  assert.equal(
    warnings.map((w) => w.message),
    ['nobody listens', 'The onError of the service container failed: hook bug. It was reporting: lost'],
  )
})

options('an async onError that rejects becomes a process warning, redacted, not an unhandled rejection', async () => {
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    const warnings = await captureWarnings(async () => {
      const container = createServiceContainer({
        onError: async () => {
          throw new Error('log backend postgres://app:hunter2@logs/db is down')
        },
      })
      container.reportError(new Error('a disposer failed'))
      // Node reports an unhandled rejection after the microtasks of this turn.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setImmediate(resolve))
    })
    assert.equal(unhandled, [], 'before, it crashed the process under --unhandled-rejections=throw')
    assert.is(warnings.length, 1)
    assert.match(warnings[0]!.message, 'The onError of the service container failed: log backend postgres://')
    assert.match(warnings[0]!.message, 'It was reporting: a disposer failed')
    assert.not.match(warnings[0]!.message, 'hunter2')
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
})

options.run()
