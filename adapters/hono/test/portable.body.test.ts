import { gzipSync } from 'node:zlib'
import { createServiceContainer } from '@lifeguard/core'
import { Deferred, waitFor } from '@lifeguard/http-conformance'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { quietApp } from './_helpers/driver.js'

// Without a Node server the middleware hands the runtime a `Response`: a whole body must still go out as one
// the runtime can give a length to, and a streamed one must keep its scope until it has been read.
const test = suite('without a Node server (app.request(), app.fetch()): what a response body becomes')

// Lets `count` rounds of I/O callbacks and microtasks run.
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve))
}

function countingContainer(): { container: ReturnType<typeof createServiceContainer>; disposed: () => number } {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  return { container, disposed: () => disposed }
}

test('a whole body (c.json, c.text) carries its Content-Length, and its scope is given back before it is read', async () => {
  const { container, disposed } = countingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  const order = { id: 'ö-42', items: [1, 2, 3] }
  app.get('/json', (c) => {
    c.var.lifeguard.get('marker')
    return c.json(order, 201)
  })
  app.get('/text', (c) => {
    c.var.lifeguard.get('marker')
    c.header('x-kept', 'yes')
    // A wrong length would cut the body short or leave the client waiting: the bytes' own is sent.
    c.header('content-length', '99')
    return c.text('héllo')
  })
  const json = await app.request('/json')
  // Before the fix Hono set no length and the body was a stream: the runtimes sent it chunked.
  assert.is(json.headers.get('content-length'), String(Buffer.byteLength(JSON.stringify(order))))
  assert.is(disposed(), 1, 'given back before the body is read')
  assert.is(json.status, 201)
  assert.match(json.headers.get('content-type') ?? '', /^application\/json(;|$)/)
  assert.ok(json.headers.get('x-request-id'))
  assert.equal(await json.json(), order)
  const text = await app.fetch(new Request('http://x/text'))
  assert.is(text.headers.get('content-length'), '6', 'bytes, not characters')
  assert.is(disposed(), 2)
  assert.is(text.headers.get('x-kept'), 'yes')
  assert.is(await text.text(), 'héllo')
  assert.is(container.openScopes, 0)
})

test("a body encoded by the handler is passed on as it is framed, without a length of ours", async () => {
  const { container, disposed } = countingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  const encoded = new Uint8Array(gzipSync('{"ok":true}')).buffer
  app.get('/encoded', (c) => {
    c.var.lifeguard.get('marker')
    return c.body(encoded, 200, { 'content-encoding': 'gzip', 'content-type': 'application/json' })
  })
  const response = await app.request('/encoded')
  assert.is(response.headers.get('content-length'), null)
  assert.is(response.headers.get('content-encoding'), 'gzip')
  assert.equal(new Uint8Array(await response.arrayBuffer()), new Uint8Array(encoded))
  await turns(5)
  assert.is(disposed(), 1)
})

test('a streamed body (c.body(ReadableStream)) still holds its scope until its last chunk was read', async () => {
  const { container, disposed } = countingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  const more = new Deferred()
  app.get('/stream', (c) => {
    c.var.lifeguard.get('marker')
    const encoder = new TextEncoder()
    let sent = 0
    return c.body(
      new ReadableStream<Uint8Array>({
        async pull(controller) {
          // The first chunk at once, the second when the test says so: a producer that awaits its source.
          if (sent === 1) await more.promise
          if (sent === 2) return controller.close()
          controller.enqueue(encoder.encode(sent === 0 ? 'first\n' : 'second\n'))
          sent++
        },
      }),
    )
  })
  const response = await app.request('/stream')
  assert.is(response.headers.get('content-length'), null)
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  assert.is(decoder.decode((await reader.read()).value), 'first\n')
  await turns(5)
  assert.is(disposed(), 0, 'the stream still holds its scope')
  more.resolve()
  let rest = ''
  for (let read = await reader.read(); !read.done; read = await reader.read()) rest += decoder.decode(read.value)
  assert.is(rest, 'second\n')
  // Disposal starts as the last read completes; its disposers run a few microtasks later.
  await waitFor('the scope to be disposed', () => disposed() === 1)
  assert.is(container.openScopes, 0)
})

test.run()
