import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOptionError, type PoolSize } from '../src/index.js'
import { checkCloseOptions, checkWarmupOptions, resolveResize } from '../src/adapter.js'
import { throwsError } from '@lifeguard/test-kit'

const resize = suite('resolveResize')
const current = { minSize: 2, maxSize: 10 }

resize('keeps a bound left out, and lowers minSize with a maxSize below it', () => {
  assert.equal(resolveResize('resize', current, { maxSize: 20 }), { minSize: 2, maxSize: 20 })
  assert.equal(resolveResize('resize', current, { minSize: 4 }), { minSize: 4, maxSize: 10 })
  assert.equal(resolveResize('resize', current, { maxSize: 1 }, { reason: 'load', details: { utilization: 10 } }), { minSize: 1, maxSize: 1 })
})

resize('a missing or non-object size is an InvalidOptionError naming `size`, not a TypeError', () => {
  for (const bad of [undefined, null, 5, [{ maxSize: 3 }]]) {
    const error = throwsError(() => resolveResize('resize', current, bad as unknown as PoolSize), InvalidOptionError, 'ERR_INVALID_OPTION')
    assert.is(error.option, 'size')
    assert.match(error.message, 'Invalid options for resize: expected `size` to be an object like `{ maxSize: 20 }`')
  }
})

resize('rejects bounds out of range, above the limit, minSize above maxSize, and bad options', () => {
  assert.is(throwsError(() => resolveResize('resize', current, { maxSize: 0 }), InvalidOptionError).option, 'maxSize')
  assert.is(throwsError(() => resolveResize('resize', current, { maxSize: 101 }, undefined, 100), InvalidOptionError).expected, 'an integer between 1 and 100')
  // 2 ** 31 meant as "no limit": a warm-up would open that many connections at once.
  assert.is(throwsError(() => resolveResize('resize', current, { maxSize: 2 ** 31 }), InvalidOptionError).expected, 'an integer between 1 and 10000')
  assert.is(throwsError(() => resolveResize('resize', current, { minSize: 11 }), InvalidOptionError).expected, 'an integer <= `maxSize` (10)')
  assert.is(throwsError(() => resolveResize('resize', current, { maxSize: 5 }, { reason: '' }), InvalidOptionError).option, 'reason')
  assert.is(throwsError(() => resolveResize('resize', current, { maxSze: 5 } as PoolSize), InvalidOptionError).option, 'maxSze')
})

const calls = suite('warmup and close options')

calls('warmup takes connections from 1 to maxSize and a timeout a timer can honour', () => {
  checkWarmupOptions('warmup', undefined, 5)
  checkWarmupOptions('warmup', { connections: 5, timeoutMillis: 2 ** 31 - 1 }, 5)
  assert.is(throwsError(() => checkWarmupOptions('warmup', { connections: 0 }, 5), InvalidOptionError).expected, 'an integer between 1 and 5')
  assert.is(throwsError(() => checkWarmupOptions('warmup', { timeoutMillis: 2 ** 32 }, 5), InvalidOptionError).option, 'timeoutMillis')
  assert.is(throwsError(() => checkWarmupOptions('warmup', { timeoutMillis: 0 }, 5), InvalidOptionError).option, 'timeoutMillis')
})

calls('close takes a timeout from 0 to 2^31-1 ms', () => {
  checkCloseOptions('close', undefined)
  checkCloseOptions('close', { timeoutMillis: 0 })
  const error = throwsError(() => checkCloseOptions('close', { timeoutMillis: 2 ** 32 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.message, 'Invalid options for close: expected `timeoutMillis` to be an integer number of milliseconds between 0 and 2147483647, got `4294967296` (number).')
})

resize.run()
calls.run()
