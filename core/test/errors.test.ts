import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { inspect } from 'node:util'
import {
  ContextUnavailableError,
  DisposedError,
  InvalidOptionError,
  LifeguardError,
  OperationAbortedError,
  PoolClosedError,
  PoolExhaustedError,
  PoolNotFoundError,
  PoolTimeoutError,
  PoolWarmupError,
  RegistrationError,
  ResolutionError,
} from '../src/index.js'

const errors = suite('errors')

const cases: [string, LifeguardError, string][] = [
  ['InvalidOptionError', new InvalidOptionError('maxSize', 'an integer >= 1', 'Invalid options for x: expected `maxSize` to be an integer >= 1, got `0` (number).'), 'ERR_INVALID_OPTION'],
  ['RegistrationError', new RegistrationError("Could not register 'orders'. Taken."), 'ERR_REGISTRATION'],
  ['ResolutionError', new ResolutionError('unknown', ['a', 'b'], "Could not resolve 'b'. Unknown."), 'ERR_RESOLUTION'],
  ['DisposedError', new DisposedError("Could not resolve 'a'. The scope is disposed."), 'ERR_DISPOSED'],
  ['ContextUnavailableError', new ContextUnavailableError(), 'ERR_CONTEXT_UNAVAILABLE'],
  ['PoolNotFoundError', new PoolNotFoundError('orders', ['users']), 'ERR_POOL_NOT_FOUND'],
  ['PoolTimeoutError', new PoolTimeoutError('orders', 5000), 'ERR_POOL_TIMEOUT'],
  ['PoolExhaustedError', new PoolExhaustedError('orders', 3), 'ERR_POOL_EXHAUSTED'],
  ['PoolClosedError', new PoolClosedError('orders'), 'ERR_POOL_CLOSED'],
  ['PoolWarmupError', new PoolWarmupError('orders', 'postgres://app@db:5432/orders', 'No connection could be opened.'), 'ERR_POOL_WARMUP'],
  ['OperationAbortedError', new OperationAbortedError("acquire a connection from pool 'orders'"), 'ERR_OPERATION_ABORTED'],
]

errors('every error has its literal class name, a stable code and the LifeguardError base', () => {
  for (const [name, error, code] of cases) {
    assert.is(error.name, name)
    assert.is(error.constructor.name, name)
    assert.is(error.code, code, name)
    assert.instance(error, LifeguardError)
    assert.instance(error, Error)
  }
})

errors("each class's code is typed as its literal, so a switch on it narrows and a typo does not compile", () => {
  // Checked by the typecheck of this file.
  const timeout: 'ERR_POOL_TIMEOUT' = new PoolTimeoutError('orders', 5000).code
  const aborted: 'ERR_OPERATION_ABORTED' = new OperationAbortedError('run').code
  const error: PoolTimeoutError | PoolClosedError = new PoolClosedError('orders')
  // @ts-expect-error no such code on either class
  const typo = error.code === 'ERR_POOL_TIMOUT'
  assert.equal([timeout, aborted, typo], ['ERR_POOL_TIMEOUT', 'ERR_OPERATION_ABORTED', false])
})

errors('every message reads "Could not ..." (option errors name the option instead)', () => {
  for (const [name, error] of cases) {
    if (name === 'InvalidOptionError') assert.match(error.message, /expected `maxSize`/)
    else assert.match(error.message, /^Could not /, name)
  }
})

errors('the class name and code show in String() and util.inspect', () => {
  const error = new PoolTimeoutError('orders', 5000)
  assert.match(String(error), /^PoolTimeoutError: Could not acquire/)
  const shown = inspect(error)
  assert.match(shown, /PoolTimeoutError/)
  assert.match(shown, /ERR_POOL_TIMEOUT/)
})

errors('a timeout carries the last underlying failure as its cause and says how long it waited', () => {
  const refused = new Error('connect ECONNREFUSED 127.0.0.1:5432')
  const error = new PoolTimeoutError('orders', 5000, { cause: refused, waiting: 2 })
  assert.is(error.cause, refused)
  assert.is(error.pool, 'orders')
  assert.is(error.timeoutMillis, 5000)
  assert.match(error.message, "Could not acquire a connection from pool 'orders'. Timed out after 5000ms.")
  assert.match(error.message, '2 other request(s) were waiting')
})

errors('no cause is set when none is given', () => {
  assert.not.ok('cause' in new PoolTimeoutError('orders', 10))
  assert.not.ok('cause' in new LifeguardError('ERR_X', 'Could not x.'))
  const warmup = new PoolWarmupError('orders', 'postgres://app@db/orders', 'Refused.', { cause: new Error('refused') })
  assert.instance(warmup.cause, Error)
})

errors('pool errors name the pool and what was expected', () => {
  const exhausted = new PoolExhaustedError('orders', 3)
  assert.is(exhausted.pool, 'orders')
  assert.is(exhausted.maxWaitingRequests, 3)
  assert.match(exhausted.message, '3 request(s) are already waiting (maxWaitingRequests)')
  assert.is(new PoolClosedError('orders', 'warm up').message, "Could not warm up pool 'orders'. The pool is closed.")
  const warmup = new PoolWarmupError('orders', 'postgres://app@db:5432/orders', 'No connection could be opened.')
  assert.is(warmup.message, "Could not warm up pool 'orders' (postgres://app@db:5432/orders). No connection could be opened.")
})

errors('PoolNotFoundError lists the known pools', () => {
  const error = new PoolNotFoundError('ordres', ['orders', 'users'])
  assert.is(error.pool, 'ordres')
  assert.is(error.message, "Could not find pool 'ordres'. Known pools: 'orders', 'users'.")
  assert.match(new PoolNotFoundError('x', []).message, 'Known pools: (none).')
})

errors('resolution and disposal errors carry the resolution path', () => {
  const resolution = new ResolutionError('cycle', ['request', 'userService', 'userRepo'], "Could not resolve 'userRepo'. Cycle.")
  assert.equal(resolution.path, ['request', 'userService', 'userRepo'])
  assert.is(resolution.reason, 'cycle')
  assert.match(resolution.message, 'Resolution path: request -> userService -> userRepo')
  const disposed = new DisposedError("Could not resolve 'a'. The scope is disposed.", ['a'])
  assert.match(disposed.message, 'Resolution path: a')
  assert.not.match(new DisposedError('Could not x.').message, 'Resolution path')
})

errors('InvalidOptionError exposes the option and what it accepts', () => {
  const error = new InvalidOptionError('maxSize', 'an integer >= 1', 'message')
  assert.is(error.option, 'maxSize')
  assert.is(error.expected, 'an integer >= 1')
})

errors('ContextUnavailableError says where a context exists', () => {
  assert.match(new ContextUnavailableError().message, /^Could not find the current operation context\. .*runOperation\(\)/)
})

errors('OperationAbortedError keeps the abort reason as its cause', () => {
  const reason = new DOMException('gone', 'AbortError')
  const error = new OperationAbortedError('acquire a connection', { cause: reason })
  assert.is(error.cause, reason)
  assert.is(error.message, 'Could not acquire a connection. The operation was aborted.')
})

errors.run()
