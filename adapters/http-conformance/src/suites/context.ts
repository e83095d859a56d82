import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'
import { waitFor } from '../wait.js'

/** The context reaches every part of the handler, through the framework's idiom and `OperationContext.current()`. */
export function contextSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: the operation context follows the request`)
  const harness = new Harness()
  test.before(() => harness.start(driver))
  test.after(() => harness.stop())

  test('the context survives await, timers and microtasks, and is the one the framework idiom hands out', async () => {
    const response = await harness.get('/context/7', { requestId: 'ctx-1' })
    assert.is(response.status, 200)
    const body = (await response.json()) as { checks: Record<string, boolean>; id: string; requestId: string }
    for (const [check, held] of Object.entries(body.checks)) assert.ok(held, `context lost: ${check}`)
    assert.equal(Object.keys(body.checks).length, 7)
    assert.is(body.id, '7')
    assert.is(body.requestId, 'ctx-1')
  })

  test('the handler defaults to "http" and the operation is METHOD route-pattern', async () => {
    const response = await harness.get('/context/8')
    const body = (await response.json()) as { handler: string; operation: string }
    assert.is(body.handler, 'http')
    assert.is(body.operation, 'GET /context/:id')
  })

  test('the operation keeps the route pattern until the scope is disposed', async () => {
    const response = await harness.get('/named/abc', { requestId: 'named-1' })
    assert.equal(await response.json(), { operation: 'GET /named/:id' })
    const probe = harness.fixture.probes.get('named-1')
    await waitFor('the scope of named-1 disposed', () => probe?.disposeCount === 1)
    assert.is(probe?.operationAtDispose, 'GET /named/:id')
  })

  test('a name the handler set with setOperation() is kept to the end: the route`s name does not replace it', async () => {
    const response = await harness.get('/self-named/abc', { requestId: 'self-named-1' })
    assert.equal(await response.json(), { routed: 'GET /self-named/:id', operation: 'orders.create' })
    const probe = harness.fixture.probes.get('self-named-1')
    await waitFor('the scope of self-named-1 disposed', () => probe?.disposeCount === 1)
    // Before, Express and Koa named it after the route again once the response had finished.
    assert.is(probe?.operationAtDispose, 'orders.create')
  })

  test.run()
}

/** `deadlineMillis` aborts the context's signal. */
export function deadlineSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: deadlineMillis aborts the operation's signal`)
  const harness = new Harness()
  test.before(() => harness.start(driver, { deadlineMillis: 30 }))
  test.after(() => harness.stop())

  test('the signal aborts with a TimeoutError once the deadline passes', async () => {
    const sentAt = performance.now()
    const response = await harness.get('/deadline')
    assert.is(response.status, 200)
    const { abortedAt, ...outcome } = (await response.json()) as { aborted: boolean; reason: string; abortedAt: number }
    assert.equal(outcome, { aborted: true, reason: 'TimeoutError' })
    // Not at once: the deadline is 30 ms from the middleware, which runs after the request was sent (the server
    // is in this process, on this clock). No upper bound: a slow machine runs the timer late.
    assert.ok(abortedAt - sentAt >= 25, `aborted ${(abortedAt - sentAt).toFixed(1)} ms after the request was sent`)
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
  })

  test.run()
}

/** The user's `operationName` names the operation while the handler runs, and until its scope is disposed. */
export function customNameSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: operationName names the operation from the handler's first line to disposal`)

  test("the handler sees the custom name before and after an await, and the scope is disposed with it", async () => {
    const harness = new Harness()
    await harness.start(driver, { operationName: () => 'orders.lookup' })
    try {
      const response = await harness.get('/names/1', { requestId: 'custom-1' })
      assert.equal(await response.json(), { first: 'orders.lookup', afterAwait: 'orders.lookup' })
      const probe = harness.fixture.probes.get('custom-1')
      await waitFor('the scope of custom-1 disposed', () => probe?.disposeCount === 1)
      assert.is(probe?.operationAtDispose, 'orders.lookup')
      assert.equal(harness.fixture.reported, [])
    } finally {
      await harness.stop()
    }
  })

  test('one that returns undefined keeps METHOD route-pattern', async () => {
    const harness = new Harness()
    await harness.start(driver, { operationName: () => undefined })
    try {
      const response = await harness.get('/names/2')
      assert.equal(await response.json(), { first: 'GET /names/:id', afterAwait: 'GET /names/:id' })
      assert.equal(harness.fixture.reported, [])
    } finally {
      await harness.stop()
    }
  })

  test.run()
}

/** A failing `operationName` costs the request nothing but its custom name: reported, the default kept. */
export function failingNameSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: an operationName that fails is reported once a request, and the request answered`)
  const namers: [string, () => string | undefined][] = [
    ['throws', () => {
      throw new Error('naming broke')
    }],
    ['returns an empty string', () => ''],
  ]
  for (const [label, operationName] of namers) {
    test(`one that ${label}: 200 with the default name, one InvalidOptionError naming operationName to onError for each request`, async () => {
      const harness = new Harness()
      await harness.start(driver, { operationName })
      try {
        for (const path of ['/context/9', '/names/9']) {
          const response = await harness.get(path)
          assert.is(response.status, 200)
          const body = (await response.json()) as { operation?: string; first?: string; afterAwait?: string }
          if (path === '/names/9') assert.equal(body, { first: 'GET /names/:id', afterAwait: 'GET /names/:id' })
          else assert.is(body.operation, 'GET /context/:id')
        }
        await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
        // Once a request, however often the adapter asks (Express and Koa ask on every read until routed).
        assert.is(harness.fixture.reported.length, 2)
        for (const error of harness.fixture.reported) {
          assert.instance(error, InvalidOptionError)
          assert.is((error as InvalidOptionError).option, 'operationName')
          assert.match((error as Error).message, '`operationName` failed, and the operation gets its default name.')
        }
      } finally {
        await harness.stop()
      }
    })
  }
  test.run()
}
