import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

async function seenId(harness: Harness, init: { requestId?: string; header?: string }, header = 'x-request-id'): Promise<[string, string | null]> {
  const response = await harness.get('/context/1', init)
  assert.is(response.status, 200)
  const body = (await response.json()) as { requestId: string }
  return [body.requestId, response.headers.get(header)]
}

/** Request ids: taken from the caller when sane, generated otherwise, echoed in the response. */
export function requestIdSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: the request id is propagated`)
  const harness = new Harness()
  const custom = new Harness()
  test.before(async () => {
    await harness.start(driver)
    await custom.start(driver, { requestIdHeader: 'X-Correlation-Id' })
  })
  test.after(async () => {
    await harness.stop()
    await custom.stop()
  })

  test('a sane x-request-id becomes the context request id and is echoed', async () => {
    const [seen, echoed] = await seenId(harness, { requestId: 'Abc-123_x.y:z' })
    assert.is(seen, 'Abc-123_x.y:z')
    assert.is(echoed, 'Abc-123_x.y:z')
  })

  test('a missing, unsafe or over-long request id is replaced by a generated UUID', async () => {
    for (const init of [{}, { requestId: 'has spaces and "quotes"' }, { requestId: 'a'.repeat(129) }, { requestId: '../etc/passwd;' }]) {
      const [seen, echoed] = await seenId(harness, init)
      assert.match(seen, uuid)
      assert.is(echoed, seen)
    }
    const [first] = await seenId(harness, {})
    const [second] = await seenId(harness, {})
    assert.is.not(first, second)
  })

  test('the longest accepted id is 128 characters', async () => {
    const [seen] = await seenId(harness, { requestId: 'b'.repeat(128) })
    assert.is(seen, 'b'.repeat(128))
  })

  test('the request id is echoed on an error response too', async () => {
    const response = await harness.get('/throw', { requestId: 'err-echo-1' })
    assert.is(response.status, 500)
    await response.arrayBuffer()
    assert.is(response.headers.get('x-request-id'), 'err-echo-1')
  })

  test("a request id header the handler sets is the one sent, once", async () => {
    const response = await harness.get('/own-request-id/upstream-7', { requestId: 'caller-7' })
    assert.is(response.status, 200)
    await response.arrayBuffer()
    // fetch joins repeated headers with ', ': one value means one header line.
    assert.is(response.headers.get('x-request-id'), 'upstream-7')
  })

  test('requestIdHeader names the header read and echoed', async () => {
    const [seen, echoed] = await seenId(custom, { requestId: 'corr-42', header: 'x-correlation-id' }, 'x-correlation-id')
    assert.is(seen, 'corr-42')
    assert.is(echoed, 'corr-42')
    const [ignored] = await seenId(custom, { requestId: 'not-this-one' })
    assert.match(ignored, uuid)
  })

  test.run()
}
