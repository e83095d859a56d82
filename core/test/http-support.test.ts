import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import {
  InvalidOptionError,
  PoolExhaustedError,
  PoolTimeoutError,
} from '../src/index.js'
import {
  validateOptions,
} from '../src/adapter.js'
import {
  mapErrorsRule,
  middlewareOptionRules,
  poolPressureBody,
  poolPressureCode,
  requestIdFrom,
  retryAfterFrom,
} from '../src/http.js'

const http = suite('HTTP adapter support')

http('keeps a sane request id and replaces anything else with a UUID', () => {
  assert.is(requestIdFrom('req-42.a:b_c'), 'req-42.a:b_c')
  for (const bad of ['', 'has space', 'x'.repeat(129), 'evil\r\nSet-Cookie: a=b', undefined, null, ['a', 'b']]) {
    const id = requestIdFrom(bad as string | undefined)
    assert.match(id, /^[0-9a-f-]{36}$/, `replaces ${JSON.stringify(bad)}`)
  }
})

http('finds pool pressure in an error or its causes, by code', () => {
  assert.is(poolPressureCode(new PoolExhaustedError('orders', 5)), 'ERR_POOL_EXHAUSTED')
  assert.is(poolPressureCode(new Error('factory failed', { cause: new PoolTimeoutError('orders', 100) })), 'ERR_POOL_TIMEOUT')
  assert.is(poolPressureCode(new Error('other')), undefined)
  assert.is(poolPressureCode('not an error'), undefined)
  assert.equal(poolPressureBody('ERR_POOL_TIMEOUT'), { error: { code: 'ERR_POOL_TIMEOUT', message: 'The service is busy. Retry later.' } })
})

http('validates the shared middleware options and names the bad one', () => {
  const rules = { ...middlewareOptionRules, mapErrors: mapErrorsRule }
  const container = { createScope() {} }
  validateOptions('lifeguard', { container, handlerName: 'orders', requestIdHeader: 'x-trace-id', deadlineMillis: 50, mapErrors: { retryAfterSeconds: 3 } }, rules)
  for (const [option, value] of [['container', {}], ['requestIdHeader', 'bad header'], ['deadlineMillis', 0], ['mapErrors', { retryAfterSeconds: -1 }], ['handlerName', '']] as const) {
    try {
      validateOptions('lifeguard', { container, [option]: value }, rules)
      assert.unreachable(`${option} accepted`)
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.is((error as InvalidOptionError).option, option)
      assert.ok((error as Error).message.includes(`\`${option}\``))
    }
  }
})

http('turns mapErrors into a Retry-After value', () => {
  assert.is(retryAfterFrom(undefined), undefined)
  assert.is(retryAfterFrom(false), undefined)
  assert.is(retryAfterFrom(true), '1')
  assert.is(retryAfterFrom({ retryAfterSeconds: 7 }), '7')
})

http.run()
