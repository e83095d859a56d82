import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'
import { waitFor } from '../wait.js'

const CONCURRENT = 500

/** Concurrent requests never see each other's context or scope. */
export function isolationSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: concurrent requests stay isolated`)
  const harness = new Harness()
  test.before(() => harness.start(driver))
  test.after(() => harness.stop())

  test(`${CONCURRENT} concurrent requests each see only their own context and scope`, async () => {
    const requests = Array.from({ length: CONCURRENT }, async (_, n) => {
      const response = await harness.get(`/isolation/${n}`, { requestId: `iso-${n}` })
      return { status: response.status, header: response.headers.get('x-request-id'), body: (await response.json()) as { n: number; isolated: boolean; requestId: string } }
    })
    const results = await Promise.all(requests)
    results.forEach(({ status, header, body }, n) => {
      assert.is(status, 200)
      assert.is(body.n, n)
      assert.is(body.requestId, `iso-${n}`)
      assert.is(header, `iso-${n}`)
      assert.ok(body.isolated, `request ${n} saw another request's context or scope`)
    })
    const probes = [...harness.fixture.probes.values()].filter((probe) => probe.context.requestId?.startsWith('iso-'))
    assert.is(probes.length, CONCURRENT)
    assert.is(new Set(probes.map((probe) => probe.context.scope)).size, CONCURRENT, 'every request had its own scope')
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
    for (const probe of probes) {
      assert.is(probe.disposeCount, 1)
      assert.is(probe.disposeCalls, 1)
    }
  })

  test.run()
}
