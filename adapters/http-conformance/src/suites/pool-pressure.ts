import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'
import { waitFor } from '../wait.js'

interface Answer {
  status: number
  retryAfter: string | null
  requestId: string | null
  body: string
}

async function answer(harness: Harness, kind: string, requestId: string): Promise<Answer> {
  const response = await harness.get(`/pool/${kind}`, { requestId })
  return { status: response.status, retryAfter: response.headers.get('retry-after'), requestId: response.headers.get('x-request-id'), body: await response.text() }
}

/** Pool pressure becomes a 503 with `Retry-After` when asked, and only then; the request id is echoed either way. */
export function poolPressureSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: pool pressure answers 503 with Retry-After when asked`)
  const mapped = new Harness()
  const delayed = new Harness()
  const unmapped = new Harness()
  test.before(async () => {
    await mapped.start(driver, { mapErrors: true })
    await delayed.start(driver, { mapErrors: { retryAfterSeconds: 7 } })
    await unmapped.start(driver)
  })
  test.after(async () => {
    await mapped.stop()
    await delayed.stop()
    await unmapped.stop()
  })

  test('PoolExhaustedError becomes 503 with the code only, never the pool', async () => {
    const result = await answer(mapped, 'exhausted', 'pool-1')
    assert.is(result.status, 503)
    assert.is(result.retryAfter, '1')
    assert.is(result.requestId, 'pool-1')
    assert.equal(JSON.parse(result.body), { error: { code: 'ERR_POOL_EXHAUSTED', message: 'The service is busy. Retry later.' } })
    assert.not.match(result.body, 'orders')
  })

  test('PoolTimeoutError as the cause of another error becomes 503, with the chosen Retry-After', async () => {
    const result = await answer(delayed, 'timeout', 'pool-2')
    assert.is(result.status, 503)
    assert.is(result.retryAfter, '7')
    assert.is((JSON.parse(result.body) as { error: { code: string } }).error.code, 'ERR_POOL_TIMEOUT')
  })

  test('the 503 drops the headers the handler set for the body it replaces, and keeps the others', async () => {
    const response = await mapped.get('/pool/after-headers', { requestId: 'pool-3' })
    // Read whole: a Content-Length of the replaced body, kept, would cut or misframe this one.
    const body = await response.text()
    assert.is(response.status, 503)
    assert.equal(JSON.parse(body), { error: { code: 'ERR_POOL_TIMEOUT', message: 'The service is busy. Retry later.' } })
    assert.is(response.headers.get('content-length'), String(Buffer.byteLength(body)))
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/)
    for (const name of ['content-encoding', 'content-disposition', 'cache-control', 'last-modified']) assert.is(response.headers.get(name), null, name)
    // Express tags every body it sends itself (a weak ETag of this one); the handler's is gone.
    assert.is.not(response.headers.get('etag'), '"v1"')
    assert.is(response.headers.get('access-control-allow-origin'), 'https://shop.example')
    assert.is(response.headers.get('content-security-policy'), "default-src 'none'")
    assert.is(response.headers.get('retry-after'), '1')
    assert.is(response.headers.get('x-request-id'), 'pool-3')
  })

  test("other errors, and pool errors when not asked, keep the framework's 500 and the request id", async () => {
    for (const [harness, kind] of [[mapped, 'other'], [unmapped, 'exhausted']] as const) {
      const result = await answer(harness, kind, `pool-500-${kind}`)
      assert.is(result.status, 500)
      assert.is(result.retryAfter, null)
      assert.is(result.requestId, `pool-500-${kind}`)
    }
  })

  test('every scope is given back', async () => {
    for (const harness of [mapped, delayed, unmapped]) await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
  })

  test.run()
}
