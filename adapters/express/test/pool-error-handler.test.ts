import { createServiceContainer, PoolExhaustedError, PoolTimeoutError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard, poolErrorHandler } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('poolErrorHandler() answers pool pressure with 503 and Retry-After, and passes other errors on')

async function call(error: unknown, options?: { retryAfterSeconds?: number }): Promise<{ status: number; retryAfter: string | null; requestId: string | null; body: string }> {
  const container = createServiceContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/fail', async () => {
    throw error
  })
  app.use(poolErrorHandler(options))
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/fail`, { headers: { 'x-request-id': 'pool-1' } })
    return { status: response.status, retryAfter: response.headers.get('retry-after'), requestId: response.headers.get('x-request-id'), body: await response.text() }
  } finally {
    await running.close()
  }
}

test('PoolExhaustedError becomes 503 with the code only', async () => {
  const result = await call(new PoolExhaustedError('orders', 10))
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

test('other errors keep Express error handling', async () => {
  const result = await call(new Error('Something else broke.'))
  assert.is(result.status, 500)
  assert.is(result.retryAfter, null)
})

test.run()
