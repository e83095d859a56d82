import { createServiceContainer, OperationContext, PoolExhaustedError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { Hono } from 'hono'
import { stream } from 'hono/streaming'
import { lifeguard, type LifeguardEnv, type LifeguardVariables } from '../src/index.js'
import { quietApp } from './_helpers/driver.js'

const test = suite('without a Node server (app.request(), fetch-only runtimes) the middleware still scopes each request')

test('the context is current, the id is echoed, and the scope is disposed once the handler settled', async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/items/:id', async (c) => {
    c.var.lifeguard.get('marker')
    await delay(1)
    const current = OperationContext.current()
    return c.json({ same: current === c.get('lifeguard'), operation: current.operation, requestId: current.requestId })
  })
  const response = await app.request('/items/3', { headers: { 'x-request-id': 'portable-1' } })
  assert.equal(await response.json(), { same: true, operation: 'GET /items/:id', requestId: 'portable-1' })
  assert.is(response.headers.get('x-request-id'), 'portable-1')
  assert.is(disposed, 1)
  assert.is(container.openScopes, 0)
})

// Lets `turns` rounds of I/O callbacks and microtasks run.
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

test("a whole body (c.json, c.text) gives its scope back whether or not the response is read; a streamed one holds it to its end", async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  app.use(lifeguard({ container }))
  let release: () => void = () => undefined
  const released = new Promise<void>((resolve) => (release = resolve))
  app.get('/json', (c) => {
    c.var.lifeguard.get('marker')
    return c.json({ ok: true })
  })
  app.get('/text', (c) => {
    c.var.lifeguard.get('marker')
    return c.text('x'.repeat(100_000))
  })
  app.get('/stream', (c) => {
    c.var.lifeguard.get('marker')
    return stream(c, async (body) => {
      await body.write('a')
      await body.write('b')
      await released
      await body.write('c')
    })
  })
  // A test that checks only the status never reads the body.
  assert.is((await app.request('/json')).status, 200)
  assert.is((await app.request('/text')).status, 200)
  await turns(5)
  assert.is(disposed, 2, 'both scopes given back, their bodies unread')
  const streamed = await app.request('/stream')
  await turns(5)
  assert.is(disposed, 2, 'the stream still holds its scope')
  release()
  assert.is(await streamed.text(), 'abc')
  assert.is(disposed, 3)
  assert.is(container.openScopes, 0)
})

test('names a route for every method (app.all) that answers, not the fallback after it', async () => {
  const names: string[] = []
  const container = createServiceContainer().scoped('marker', (r) => r.resolve('operationContext') as OperationContext, { dispose: (context) => void names.push(context.operation) })
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.all('/api/webhooks/:id', (c) => {
    c.var.lifeguard.get('marker')
    return c.json({ operation: c.var.lifeguard.operation })
  })
  app.all('/api/*', (c) => c.json({ operation: c.var.lifeguard.operation }, 404))
  const response = await app.request('/api/webhooks/9', { method: 'POST' })
  assert.equal(await response.json(), { operation: 'POST /api/webhooks/:id' })
  assert.equal(names, ['POST /api/webhooks/:id'])
  assert.equal(await (await app.request('/api/nothing')).json(), { operation: 'GET /api/*' })
})

test('new Hono<LifeguardEnv>() types c.var.lifeguard; its variables are a plain object type, as Hono 4.0 to 4.4 require', async () => {
  // Typechecked with the tests: Hono before 4.5 constrains `Env['Variables']` to `Record<string, any>`,
  // which an interface (no index signature) does not satisfy.
  const variables: Record<string, unknown> = {} as LifeguardVariables
  const app = new Hono<LifeguardEnv>()
  app.use(lifeguard({ container: createServiceContainer() }))
  app.get('/typed', (c) => c.text(c.var.lifeguard.operation))
  assert.is(await (await app.request('/typed')).text(), 'GET /typed')
  assert.type(variables, 'object')
})

test('a HEAD request, answered from the GET route with its body dropped unread, gives its scope back', async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/orders', (c) => {
    c.var.lifeguard.get('marker')
    return c.json([])
  })
  for (let i = 0; i < 3; i++) await (await app.fetch(new Request('http://x/orders', { method: 'HEAD' }))).text()
  for (let i = 0; i < 100 && disposed < 3; i++) await delay(2)
  assert.is(disposed, 3)
  assert.is(container.openScopes, 0)
})

test("the context's signal follows the request's signal", async () => {
  const container = createServiceContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/wait', async (c) => {
    const signal = c.var.lifeguard.signal
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    return c.json({ aborted: signal.aborted })
  })
  const controller = new AbortController()
  const response = app.request('/wait', { signal: controller.signal })
  await delay(5)
  controller.abort()
  assert.equal(await (await response).json(), { aborted: true })
  assert.is(container.openScopes, 0)
})

test("the id is echoed on a handler's own Response too: raw, redirect, hand-built error", async () => {
  const app = quietApp()
  app.use(lifeguard({ container: createServiceContainer() }))
  app.get('/raw', () => new Response('raw', { status: 201 }))
  app.get('/redirect', () => Response.redirect('http://x/elsewhere', 302))
  app.get('/error', () => new Response('bad', { status: 500 }))
  for (const [path, status] of [['/raw', 201], ['/redirect', 302], ['/error', 500]] as const) {
    const response = await app.request(path, { headers: { 'x-request-id': `own-${status}` } })
    assert.is(response.status, status, path)
    assert.is(response.headers.get('x-request-id'), `own-${status}`, path)
  }
  // Hono answers HEAD with the GET route's response, body dropped: the id is echoed there too.
  const head = await app.request('/raw', { method: 'HEAD', headers: { 'x-request-id': 'own-head' } })
  assert.is(head.status, 201)
  assert.is(head.headers.get('x-request-id'), 'own-head')
  assert.is(await head.text(), '')
})

// What a fetch-style runtime's WebSocket helper returns: status 101, which Node's own Response refuses to build.
function upgradeResponse(): Response {
  return Object.defineProperty(new Response(null), 'status', { get: () => 101 })
}

test("a WebSocket upgrade's 101 is passed on as it is, and its scope is given back", async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/socket', (c) => {
    c.var.lifeguard.get('marker')
    return upgradeResponse()
  })
  const response = await app.request('/socket')
  assert.is(response.status, 101, 'not rebuilt (a runtime refuses a rebuilt 101), so not a 500')
  assert.is(disposed, 1)
  assert.is(container.openScopes, 0)
})

test('an error after the chain still gives the scope back (here a response whose headers cannot be read)', async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  app.use(lifeguard({ container }))
  let headerReads = 0
  app.get('/odd', (c) => {
    c.var.lifeguard.get('marker')
    // Its headers fail on the first read, the middleware's (looking for the request id); Hono's own later reads work.
    const response = new Response('x')
    const { headers } = response
    return Object.defineProperty(response, 'headers', {
      get: () => {
        if (headerReads++ === 0) throw new Error('headers unavailable')
        return headers
      },
    })
  })
  const response = await app.request('/odd')
  assert.is(response.status, 500, "Hono's own answer to the error")
  for (let turn = 0; turn < 100 && disposed === 0; turn++) await turns(1)
  assert.is(disposed, 1)
  assert.is(container.openScopes, 0)
})

test("a streamed body's abort cleanup runs while its scope is still open", async () => {
  const seen: string[] = []
  const container = createServiceContainer().scoped('cursor', () => ({ close: () => void seen.push('cursor closed') }))
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/stream', (c) =>
    stream(c, async (s) => {
      s.onAbort(() => {
        try {
          ;(c.var.lifeguard.get('cursor') as { close(): void }).close()
        } catch (error) {
          seen.push((error as Error).name)
        }
      })
      await s.write('first')
      await new Promise((resolve) => setTimeout(resolve, 60_000).unref())
    }),
  )
  const response = await app.request('/stream')
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  await reader.read()
  await reader.cancel()
  assert.equal(seen, ['cursor closed'])
  for (let i = 0; i < 100 && container.openScopes > 0; i++) await delay(2)
  assert.is(container.openScopes, 0)
})

test('mapErrors works there too', async () => {
  const container = createServiceContainer()
  const app = quietApp()
  app.use(lifeguard({ container, mapErrors: true }))
  app.get('/busy', () => {
    throw new PoolExhaustedError('orders', 1)
  })
  const response = await app.request('/busy')
  assert.is(response.status, 503)
  assert.is(response.headers.get('retry-after'), '1')
  assert.ok(response.headers.get('x-request-id'))
})

test.run()
