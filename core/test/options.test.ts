import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError } from '../src/index.js'
import { MAX_TIMER_MILLIS, checkOption, rejectOption, validateOptions, type OptionRules } from '../src/adapter.js'
import { throwsError } from '@lifeguard/test-kit'

interface PoolOptions {
  name: string
  maxSize?: number
  ratio?: number
  password?: string
  mode?: 'fast' | 'safe'
  enabled?: boolean
  onError?: () => void
  signal?: AbortSignal
  events?: object
  port?: number | string
}

const rules: OptionRules<PoolOptions> = {
  name: { type: 'string', nonEmpty: true },
  maxSize: { type: 'integer', min: 1, max: 100, optional: true },
  ratio: { type: 'number', min: 0, optional: true },
  password: { type: 'string', secret: true, nonEmpty: true, optional: true },
  mode: { type: 'oneOf', values: ['fast', 'safe'], optional: true },
  enabled: { type: 'boolean', optional: true },
  onError: { type: 'function', optional: true },
  signal: { type: 'signal', optional: true },
  events: { type: 'object', optional: true },
  port: { type: 'custom', expected: 'a port number or a numeric string', check: (v) => typeof v === 'number' || /^\d+$/.test(String(v)), optional: true },
}

const validate = (options: unknown) => validateOptions('createPool', options as PoolOptions, rules)
const invalid = (options: unknown) => throwsError(() => validate(options), InvalidOptionError, 'ERR_INVALID_OPTION')

const validation = suite('validateOptions')

validation('accepts a valid option bag and returns it unchanged', () => {
  const options: PoolOptions = { name: 'orders', maxSize: 10, ratio: 0.5, mode: 'safe', enabled: true, onError: () => {}, signal: new AbortController().signal, events: {}, port: '5432' }
  assert.is(validate(options), options)
  assert.is(validate({ name: 'orders', ratio: Infinity }).ratio, Infinity)
})

validation('treats a missing option bag as empty, so required options are still reported', () => {
  const error = invalid(undefined)
  assert.is(error.option, 'name')
})

validation('rejects an option bag that is not an object', () => {
  for (const bad of [null, 42, 'orders', [{ name: 'orders' }]]) {
    const error = invalid(bad)
    assert.is(error.option, 'options')
    assert.match(error.message, 'Invalid options for createPool: expected an object')
  }
})

validation('rejects unknown keys and lists the known ones', () => {
  const error = invalid({ name: 'orders', maxSzie: 10 })
  assert.is(error.option, 'maxSzie')
  assert.match(error.message, 'Invalid options for createPool: unknown option `maxSzie`.')
  assert.match(error.message, 'Known options: `name`, `maxSize`')
})

validation('does not echo the value of an unknown key, which might be a secret', () => {
  const error = invalid({ name: 'orders', pasword: 'hunter2-secret' })
  assert.is(error.option, 'pasword')
  assert.not.match(error.message, 'hunter2-secret')
})

validation('shows an unknown key that is a connection string (a URL spread into the options) without its password', () => {
  for (const key of ['postgres://app:hunter2@db:5432/orders', 'app:hunter2@db']) {
    const error = invalid({ name: 'orders', [key]: 1 })
    assert.not.match(error.message, 'hunter2')
    assert.not.match(error.option, 'hunter2')
    assert.match(error.message, ':***@db')
  }
})

validation('rejects an out-of-range integer, naming option, value and allowed range', () => {
  const low = invalid({ name: 'orders', maxSize: 0 })
  assert.is(low.option, 'maxSize')
  assert.is(low.expected, 'an integer between 1 and 100')
  assert.is(low.message, 'Invalid options for createPool: expected `maxSize` to be an integer between 1 and 100, got `0` (number).')
  assert.match(invalid({ name: 'orders', maxSize: 101 }).message, 'got `101` (number)')
})

validation('rejects a non-integer, NaN and a numeric string for an integer option', () => {
  assert.match(invalid({ name: 'orders', maxSize: 1.5 }).message, 'got `1.5` (number)')
  assert.match(invalid({ name: 'orders', maxSize: Number.NaN }).message, 'got `NaN` (number)')
  assert.match(invalid({ name: 'orders', maxSize: '10' }).message, 'expected `maxSize` to be an integer between 1 and 100, got `"10"` (string)')
  // Text where a number is meant is shown when it reads as one, and otherwise only counted: a variable mixed
  // up (`port: process.env.PGPASSWORD`) would show a password.
  assert.match(invalid({ name: 'orders', maxSize: '5s' }).message, 'got `"5s"` (string)')
  const mixedUp = invalid({ name: 'orders', maxSize: 'hunter2-prod' })
  assert.match(mixedUp.message, 'got a string of 12 characters.')
  assert.not.match(mixedUp.message, 'hunter2')
  assert.match(invalid({ name: 'orders', maxSize: Infinity }).message, 'got `Infinity` (number)')
})

validation('checks minimums of plain numbers', () => {
  const error = invalid({ name: 'orders', ratio: -0.1 })
  assert.is(error.expected, 'a number >= 0')
  assert.match(error.message, 'got `-0.1` (number)')
})

validation('rejects wrong types for every rule kind, saying what was expected', () => {
  const expectations: [Partial<Record<keyof PoolOptions, unknown>>, string, string][] = [
    [{ name: '' }, 'name', 'a non-empty string'],
    [{ name: 42 }, 'name', 'a non-empty string'],
    [{ mode: 'slow' }, 'mode', 'one of `fast`, `safe`'],
    [{ enabled: 'yes' }, 'enabled', 'a boolean'],
    [{ onError: 'log' }, 'onError', 'a function'],
    [{ signal: {} }, 'signal', 'an AbortSignal'],
    [{ events: null }, 'events', 'an object'],
    [{ port: 'abc' }, 'port', 'a port number or a numeric string'],
  ]
  for (const [patch, option, expected] of expectations) {
    const error = invalid({ name: 'orders', ...patch })
    assert.is(error.option, option)
    assert.is(error.expected, expected)
    assert.match(error.message, `expected \`${option}\` to be ${expected}, got `)
  }
})

validation('describes values without dumping objects or long strings', () => {
  assert.match(invalid({ name: 'orders', enabled: { nested: 'secret-value' } }).message, 'got an object.')
  assert.match(invalid({ name: 'orders', enabled: [1, 2] }).message, 'got an array.')
  assert.match(invalid({ name: 'orders', enabled: () => 1 }).message, 'got a function.')
  assert.match(invalid({ name: 'orders', enabled: null }).message, 'got `null`.')
  assert.match(invalid({ name: 'orders', enabled: 10n }).message, 'got `10` (bigint).')
  const long = invalid({ name: 'orders', mode: 'x'.repeat(200) })
  assert.match(long.message, `${'x'.repeat(57)}...`)
  assert.not.match(long.message, 'x'.repeat(58))
})

validation('describes a symbol by its description, with the right article', () => {
  assert.match(invalid({ name: Symbol('orders') }).message, 'expected `name` to be a non-empty string, got `Symbol(orders)` (symbol).')
  assert.match(invalid({ name: Symbol() }).message, 'got `Symbol()` (symbol).')
  const long = invalid({ name: Symbol('y'.repeat(200)) }).message
  assert.match(long, `\`Symbol(${'y'.repeat(50)}...\` (symbol)`)
  assert.not.match(long, 'y'.repeat(51))
})

validation('never echoes a secret option, whatever its type', () => {
  const empty = invalid({ name: 'orders', password: '' })
  assert.is(empty.option, 'password')
  assert.match(empty.message, 'expected `password` to be a non-empty string, got `<redacted>` (string).')
  const numeric = invalid({ name: 'orders', password: 271828182 })
  assert.match(numeric.message, 'got `<redacted>` (number)')
  assert.not.match(numeric.message, '271828182')
})

validation('allows optional options to be undefined', () => {
  assert.ok(validate({ name: 'orders', maxSize: undefined, password: undefined }))
})

const single = suite('checkOption and rejectOption')

single('checkOption passes a matching value and throws for a missing required one', () => {
  checkOption('resize', 'maxSize', 5, { type: 'integer', min: 1 })
  checkOption('resize', 'minSize', undefined, { type: 'integer', min: 0, optional: true })
  const error = throwsError(() => checkOption('resize', 'maxSize', undefined, { type: 'integer', min: 1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.message, 'Invalid options for resize: expected `maxSize` to be an integer >= 1, got `undefined` (undefined).')
})

single('a string value is shown without the password of a connection string in it', () => {
  const error = throwsError(() => checkOption('createPool', 'name', 'postgres://app:hunter2@db/orders', { type: 'oneOf', values: ['orders'] }), InvalidOptionError)
  assert.is(error.message, 'Invalid options for createPool: expected `name` to be one of `orders`, got `"postgres://app:***@db/orders"` (string).')
  // Redacted before it is shortened: a long one cannot leave part of the password in sight.
  const long = throwsError(() => checkOption('createPool', 'name', `postgres://app:hunter2@${'db'.repeat(40)}/orders`, { type: 'oneOf', values: ['orders'] }), InvalidOptionError)
  assert.not.match(long.message, 'hunter')
  // The other places a password goes: a query parameter, libpq's key=value form.
  for (const form of ['postgres://db/orders?sslmode=require&password=hunter2', 'host=db user=app password=hunter2']) {
    const error = throwsError(() => checkOption('createPool', 'name', form, { type: 'oneOf', values: ['orders'] }), InvalidOptionError)
    assert.not.match(error.message, 'hunter2', form)
  }
  // A long string (a certificate in the wrong option) is searched in linear time: this took seconds.
  const started = performance.now()
  throwsError(() => checkOption('createPool', 'name', 'a'.repeat(200_000), { type: 'oneOf', values: ['orders'] }), InvalidOptionError)
  assert.ok(performance.now() - started < 5000, 'bounded work (a 200,000-character string took about 30 s before)')
  // A password too long for the search (a token), and a symbol's description, show none of it.
  const token = `postgres://app:${'T0KEN'.repeat(120)}@db/orders`
  assert.not.match(throwsError(() => checkOption('createPool', 'name', token, { type: 'oneOf', values: ['orders'] }), InvalidOptionError).message, 'T0KEN')
  assert.not.match(throwsError(() => checkOption('createPool', 'name', Symbol('postgres://app:hunter2@db/orders'), { type: 'oneOf', values: ['orders'] }), InvalidOptionError).message, 'hunter2')
})

single('checkOption states an upper bound alone', () => {
  const error = throwsError(() => checkOption('warmup', 'connections', 11, { type: 'integer', max: 10 }), InvalidOptionError)
  assert.is(error.expected, 'an integer <= 10')
})

single('rejectOption reports a rule that spans several options', () => {
  const error = throwsError(() => rejectOption('createPool', 'minSize', 'an integer <= `maxSize` (5)', 8), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'minSize')
  assert.is(error.message, 'Invalid options for createPool: expected `minSize` to be an integer <= `maxSize` (5), got `8` (number).')
})

single('a duration is an integer of milliseconds a timer can wait for, up to 2^31-1', () => {
  const rule = { type: 'duration', min: 1 } as const
  checkOption('createPool', 'acquireTimeoutMillis', 1, rule)
  checkOption('createPool', 'acquireTimeoutMillis', MAX_TIMER_MILLIS, rule)
  assert.is(MAX_TIMER_MILLIS, 2 ** 31 - 1)
  for (const bad of [0, 2 ** 31, 2 ** 32, 1.5, Infinity, Number.NaN, '10']) {
    const error = throwsError(() => checkOption('createPool', 'acquireTimeoutMillis', bad, rule), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'acquireTimeoutMillis')
    assert.is(error.expected, 'an integer number of milliseconds between 1 and 2147483647')
  }
  const error = throwsError(() => checkOption('createPool', 'idleTimeoutMillis', 2 ** 32, { type: 'duration' }), InvalidOptionError)
  assert.is(error.message, 'Invalid options for createPool: expected `idleTimeoutMillis` to be an integer number of milliseconds between 0 and 2147483647, got `4294967296` (number).')
})

const listeners = suite('the listeners rule')
const rule = { type: 'listeners', keys: ['onConnect', 'onError'], optional: true } as const
const checkEvents = (value: unknown) => checkOption('createPool', 'events', value, rule)
const badEvents = (value: unknown) => throwsError(() => checkEvents(value), InvalidOptionError, 'ERR_INVALID_OPTION')

listeners('accepts a map of known listeners, an array of maps, undefined entries and no option', () => {
  checkEvents(undefined)
  checkEvents({})
  checkEvents({ onConnect: () => {}, onError: undefined })
  checkEvents([{ onConnect: () => {} }, { onError: async () => {} }])
})

listeners('rejects an unknown key, naming it in full and listing the known ones', () => {
  const typo = badEvents({ onErorr: () => {} })
  assert.is(typo.option, 'events.onErorr')
  assert.is(typo.message, 'Invalid options for createPool: unknown listener `events.onErorr`. Known listeners: `onConnect`, `onError`.')
  assert.is(badEvents([{ onConnect: () => {} }, { onconnect: () => {} }]).option, 'events[1].onconnect')
})

listeners('rejects a listener that is not a function, naming the entry', () => {
  const error = badEvents({ onError: 5 })
  assert.is(error.option, 'events.onError')
  assert.is(error.message, 'Invalid options for createPool: expected `events.onError` to be a function, got `5` (number).')
  assert.is(badEvents([{}, { onConnect: 'log' }]).option, 'events[1].onConnect')
})

listeners('rejects a value that is no listener map, and array entries that are not maps', () => {
  for (const bad of [5, 'onError', null, () => {}]) {
    const error = badEvents(bad)
    assert.is(error.option, 'events')
    assert.is(error.expected, 'an object of listeners (`onConnect`, `onError`) or an array of them')
  }
  const entry = badEvents(['x'])
  assert.is(entry.option, 'events[0]')
  assert.match(entry.message, 'expected `events[0]` to be an object of listeners, got `"x"` (string)')
  assert.is(badEvents([{}, null]).option, 'events[1]')
})

validation.run()
single.run()
listeners.run()
