import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { RegistrationError, ResolutionError, createServiceContainer, type ServiceResolver } from '../src/index.js'
import { throwsError } from '@lifeguard/test-kit'

// Names come from JavaScript too: a missing field (`undefined`), a symbol, an empty string.
const names = suite('ServiceContainer service names')

const svc = Symbol('svc')

names('resolving undefined is a ResolutionError, not undefined, even once a value was provided', () => {
  const container = createServiceContainer().value('config', { port: 1 })
  for (const target of [container, container.createScope(), container.createScope().provide('request', {})]) {
    const error = throwsError(() => target.resolve(undefined as never), ResolutionError, 'ERR_RESOLUTION')
    assert.is(error.reason, 'unknown')
    assert.is(error.message, 'Could not resolve a service. Expected a non-empty string name, got `undefined` (undefined).\nResolution path: undefined')
  }
})

names('a factory resolving undefined gets the same error, with its path', () => {
  const container = createServiceContainer().scoped('repo', (r: ServiceResolver) => r.resolve(undefined as never))
  const error = throwsError(() => container.createScope().resolve('repo'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'unknown')
  assert.equal(error.path, ['repo', 'undefined'])
})

names('resolving a symbol or an empty string is a ResolutionError saying what the name was', () => {
  const scope = createServiceContainer().createScope()
  const symbol = throwsError(() => scope.resolve(svc as never), ResolutionError, 'ERR_RESOLUTION')
  assert.is(symbol.message, 'Could not resolve a service. Expected a non-empty string name, got `Symbol(svc)` (symbol).\nResolution path: Symbol(svc)')
  const empty = throwsError(() => scope.resolve(''), ResolutionError, 'ERR_RESOLUTION')
  assert.match(empty.message, 'Could not resolve a service. Expected a non-empty string name, got an empty string.')
})

names('a disposed scope asked for a symbol is still a typed error', async () => {
  const scope = createServiceContainer().createScope()
  await scope.dispose()
  throwsError(() => scope.resolve(svc as never), ResolutionError, 'ERR_RESOLUTION')
})

names('provide() refuses undefined, a symbol or an empty string as a name', () => {
  const scope = createServiceContainer().createScope()
  for (const [name, shown] of [
    [undefined, '`undefined` (undefined)'],
    [svc, '`Symbol(svc)` (symbol)'],
    ['', 'an empty string'],
    [42, '`42` (number)'],
  ] as const) {
    const error = throwsError(() => scope.provide(name as never, 'x'), RegistrationError, 'ERR_REGISTRATION')
    assert.is(error.message, `Could not provide a value. Expected a non-empty string name, got ${shown}.`)
  }
})

names('every kind of registration refuses a symbol, an empty string or undefined with a RegistrationError', () => {
  const container = createServiceContainer()
  const register = {
    singleton: (name: unknown) => container.singleton(name as never, () => 1),
    scoped: (name: unknown) => container.scoped(name as never, () => 1),
    transient: (name: unknown) => container.transient(name as never, () => 1),
    value: (name: unknown) => container.value(name as never, 1),
  }
  for (const [kind, call] of Object.entries(register)) {
    const symbol = throwsError(() => call(svc), RegistrationError, 'ERR_REGISTRATION')
    assert.is(symbol.message, 'Could not register a service. Expected a non-empty string name, got `Symbol(svc)` (symbol).', kind)
    const empty = throwsError(() => call(''), RegistrationError, 'ERR_REGISTRATION')
    assert.is(empty.message, 'Could not register a service. Expected a non-empty string name, got an empty string.', kind)
    throwsError(() => call(undefined), RegistrationError, 'ERR_REGISTRATION')
  }
  assert.equal(container.names(), [])
})

names.run()
