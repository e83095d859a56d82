import { createServiceContainer } from '@lifeguard/core'
import { Deferred } from '@lifeguard/http-conformance'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('after a disconnect, Express disposes when the handler ends the response, or after abortGraceMillis')

test('a handler that returns without answering an aborted request has its scope disposed after the grace period', async () => {
  let disposedAt = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void (disposedAt = Date.now()) })
  let abortedAt = 0
  const entered = new Deferred()
  const app = quietApp()
  app.use(lifeguard({ container, abortGraceMillis: 50 }))
  app.get('/walk-away', async (req) => {
    req.lifeguard.get('marker')
    entered.resolve()
    await new Promise((resolve) => req.lifeguard.signal.addEventListener('abort', resolve, { once: true }))
    abortedAt = Date.now()
    // Returns without ending the response: Express cannot tell the middleware it is done.
  })
  const running = await listen(app)
  try {
    const controller = new AbortController()
    const request = fetch(`${running.url}/walk-away`, { signal: controller.signal }).catch((error: Error) => error.name)
    await entered.promise
    controller.abort()
    assert.is(await request, 'AbortError')
    for (let i = 0; i < 400 && disposedAt === 0; i++) await delay(5)
    assert.ok(abortedAt > 0, 'the signal aborted')
    assert.ok(disposedAt > 0, 'the scope was disposed')
    assert.ok(disposedAt - abortedAt >= 40, `disposed ${disposedAt - abortedAt}ms after the abort, before the grace period`)
    assert.is(container.openScopes, 0)
  } finally {
    await running.close()
  }
})

test.run()
