import { createServiceContainer } from '@lifeguard/core'
import { Deferred } from '@lifeguard/http-conformance'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { once } from 'node:events'
import { connect } from 'node:net'
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

test('a pipelined request whose client went away before its turn is disposed when its handler ends the response', async () => {
  const disposed: string[] = []
  const container = createServiceContainer().scoped('marker', (r) => r.resolve('operationContext').requestId ?? '', { dispose: (id) => void disposed.push(id) })
  const firstEntered = new Deferred()
  const secondEntered = new Deferred()
  const firstAborted = new Deferred()
  const answer = new Deferred()
  const app = quietApp()
  // A grace far longer than the test's own guard below: only the handler's end can dispose in time.
  app.use(lifeguard({ container, abortGraceMillis: 600_000 }))
  app.get('/first', async (req, res) => {
    req.lifeguard.get('marker')
    req.lifeguard.signal.addEventListener('abort', () => firstAborted.resolve(), { once: true })
    firstEntered.resolve()
    await answer.promise
    res.json({ ok: 1 })
  })
  app.get('/second', async (req, res) => {
    req.lifeguard.get('marker')
    secondEntered.resolve()
    await answer.promise
    res.json({ ok: 2 })
  })
  const running = await listen(app)
  try {
    const { hostname, port } = new URL(running.url)
    const socket = connect(Number(port), hostname)
    await once(socket, 'connect')
    socket.write(`GET /first HTTP/1.1\r\nHost: x\r\nX-Request-Id: first\r\n\r\nGET /second HTTP/1.1\r\nHost: x\r\nX-Request-Id: second\r\n\r\n`)
    await firstEntered.promise
    await secondEntered.promise
    socket.destroy()
    await firstAborted.promise // the server saw the connection close
    await new Promise((resolve) => setImmediate(resolve))
    answer.resolve()
    // A hang guard, not a speed check: without the fix, the second waits out its ten minutes.
    for (let i = 0; i < 2_000 && disposed.length < 2; i++) await delay(5)
    assert.equal(disposed.sort(), ['first', 'second'])
    assert.is(container.openScopes, 0)
  } finally {
    await running.close()
  }
})

test.run()
