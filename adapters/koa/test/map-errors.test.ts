import Router from '@koa/router'
import { createServiceContainer, PoolExhaustedError, PoolTimeoutError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard, type MapErrorsOptions } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('mapErrors answers pool pressure with 503 and Retry-After, and only when asked')

async function call(error: unknown, mapErrors?: boolean | MapErrorsOptions): Promise<{ status: number; retryAfter: string | null; requestId: string | null; body: string }> {
  const container = createServiceContainer()
  const app = quietApp()
  const router = new Router()
  router.get('/fail', async () => {
    throw error
  })
  app.use(lifeguard({ container, ...(mapErrors === undefined ? {} : { mapErrors }) }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/fail`, { headers: { 'x-request-id': 'pool-1' } })
    return { status: response.status, retryAfter: response.headers.get('retry-after'), requestId: response.headers.get('x-request-id'), body: await response.text() }
  } finally {
    await running.close()
    assert.is(container.openScopes, 0)
  }
}

test('PoolExhaustedError becomes 503 with the code only', async () => {
  const result = await call(new PoolExhaustedError('orders', 10), true)
  assert.is(result.status, 503)
  assert.is(result.retryAfter, '1')
  assert.is(result.requestId, 'pool-1')
  assert.equal(JSON.parse(result.body), { error: { code: 'ERR_POOL_EXHAUSTED', message: 'The service is busy. Retry later.' } })
  assert.not.match(result.body, 'orders')
})

test('PoolTimeoutError, also as the cause of another error, becomes 503 with the chosen Retry-After', async () => {
  const wrapped = new Error('Could not load the order.', { cause: new PoolTimeoutError('orders', 5000) })
  const result = await call(wrapped, { retryAfterSeconds: 7 })
  assert.is(result.status, 503)
  assert.is(result.retryAfter, '7')
  assert.is((JSON.parse(result.body) as { error: { code: string } }).error.code, 'ERR_POOL_TIMEOUT')
})

test('without mapErrors, pool errors keep Koa error handling; other errors always do', async () => {
  const unmapped = await call(new PoolExhaustedError('orders', 10))
  assert.is(unmapped.status, 500)
  assert.is(unmapped.requestId, 'pool-1')
  const other = await call(new Error('Something else broke.'), true)
  assert.is(other.status, 500)
  assert.is(other.retryAfter, null)
})

test.run()
