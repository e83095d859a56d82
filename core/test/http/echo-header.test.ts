import { get, createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { connect, createServer as createHttp2Server, type IncomingHttpHeaders } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import onHeaders from 'on-headers'
import { echoHeaderOnWrite } from '../../src/http.js'

const test = suite('echoHeaderOnWrite: a header added as the response is written')

interface Seen {
  status: number
  statusMessage: string
  /** Every header line as sent, names lower-cased, in order. */
  lines: [string, string][]
  body: string
}

/** Serves one request with `respond` after the echo is armed, and returns the response as the client saw it. */
async function served(respond: (res: ServerResponse) => void, before?: (res: ServerResponse) => void): Promise<Seen> {
  const server = createServer((_req: IncomingMessage, res: ServerResponse) => {
    before?.(res)
    echoHeaderOnWrite(res, 'x-request-id', 'req-1')
    respond(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  try {
    const { port } = server.address() as AddressInfo
    return await new Promise<Seen>((resolve, reject) => {
      get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('end', () => {
          const lines: [string, string][] = []
          for (let i = 0; i < res.rawHeaders.length; i += 2) lines.push([res.rawHeaders[i]!.toLowerCase(), res.rawHeaders[i + 1]!])
          resolve({ status: res.statusCode!, statusMessage: res.statusMessage!, lines, body })
        })
      }).on('error', reject)
    })
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
}

const values = (seen: Seen, name: string): string[] => seen.lines.filter(([key]) => key === name).map(([, value]) => value)

test('end() with headers set on the response: the id is added', async () => {
  const seen = await served((res) => {
    res.setHeader('Content-Type', 'text/plain')
    res.end('ok')
  })
  assert.equal(values(seen, 'x-request-id'), ['req-1'])
  assert.equal(values(seen, 'content-type'), ['text/plain'])
  assert.is(seen.body, 'ok')
})

test('writeHead(status, headers) as an object: every header goes out once, numbers and lists included', async () => {
  const seen = await served((res) => {
    res.writeHead(201, { 'Content-Type': 'application/json', 'Content-Length': 2, 'Set-Cookie': ['a=1', 'b=2'] })
    res.end('{}')
  })
  assert.is(seen.status, 201)
  assert.equal(values(seen, 'x-request-id'), ['req-1'])
  assert.equal(values(seen, 'content-type'), ['application/json'])
  assert.equal(values(seen, 'content-length'), ['2'])
  assert.equal(values(seen, 'set-cookie'), ['a=1', 'b=2'])
  assert.is(seen.body, '{}')
})

test('writeHead(status, reason, headers) keeps the reason phrase', async () => {
  const seen = await served((res) => {
    res.writeHead(202, 'Queued', { 'Content-Type': 'text/plain' })
    res.end()
  })
  assert.is(seen.status, 202)
  assert.is(seen.statusMessage, 'Queued')
  assert.equal(values(seen, 'x-request-id'), ['req-1'])
})

test('writeHead(status, headers) as a flat list, and after headers set on the response (Node merges them)', async () => {
  const list = await served((res) => {
    res.writeHead(200, ['Content-Type', 'text/plain', 'X-Other', '1'])
    res.end()
  })
  assert.equal(values(list, 'x-request-id'), ['req-1'])
  assert.equal(values(list, 'x-other'), ['1'])
  const merged = await served((res) => {
    res.setHeader('X-Before', 'b')
    res.writeHead(200, { 'X-After': 'a' })
    res.end()
  })
  assert.equal([values(merged, 'x-before'), values(merged, 'x-after'), values(merged, 'x-request-id')], [['b'], ['a'], ['req-1']])
})

test('writeHead(status, undefined or null, headers): the headers go out, as Node sends them', async () => {
  for (const reason of [undefined, null]) {
    const seen = await served((res) => {
      ;(res.writeHead as (status: number, reason: unknown, headers: unknown) => unknown)(201, reason, { 'Content-Type': 'text/plain', 'X-Upstream': 'kept' })
      res.end('hi')
    })
    assert.is(seen.status, 201, `reason ${reason}`)
    assert.equal(values(seen, 'x-upstream'), ['kept'], `reason ${reason}`)
    assert.equal(values(seen, 'content-type'), ['text/plain'], `reason ${reason}`)
    assert.equal(values(seen, 'x-request-id'), ['req-1'], `reason ${reason}`)
  }
})

test('writeHead(status, headers) as [name, value] pairs: answered as Node answers it, with the id added', async () => {
  for (const pairs of [[['Content-Type', 'text/plain'], ['X-A', '1']], [['Content-Type', 'text/plain'], ['X-A', '1'], ['X-B', '2']]]) {
    const seen = await served((res) => {
      res.writeHead(200, pairs as unknown as string[])
      res.end('hi')
    })
    assert.is(seen.status, 200)
    assert.equal(values(seen, 'x-a'), ['1'])
    assert.equal(values(seen, 'content-type'), ['text/plain'])
    assert.equal(values(seen, 'x-request-id'), ['req-1'])
    assert.is(seen.body, 'hi')
  }
  const own = await served((res) => {
    res.writeHead(200, [['X-Request-Id', 'paired']] as unknown as string[])
    res.end()
  })
  assert.equal(values(own, 'x-request-id'), ['paired'])
})

test('a writeHead wrapper installed before it (on-headers, under morgan, compression, response-time) finds the headers where the caller put them', async () => {
  const writes: [string, (res: ServerResponse) => void][] = [
    ['object', (res) => res.writeHead(200, { 'Content-Type': 'text/event-stream', 'X-A': '1' })],
    ['flat list', (res) => res.writeHead(200, ['Content-Type', 'text/event-stream', 'X-A', '1'])],
    ['reason', (res) => res.writeHead(200, 'Fine', { 'Content-Type': 'text/event-stream', 'X-A': '1' })],
    ['none', (res) => res.writeHead(200)],
  ]
  for (const [form, write] of writes) {
    let heard = 0
    const seen = await served(
      (res) => {
        write(res)
        res.end('data')
      },
      (res) => onHeaders(res, () => void heard++),
    )
    assert.is(heard, 1, form)
    // Before: passed on as writeHead(200, undefined, headers), where on-headers read none and sent none.
    assert.equal(values(seen, 'x-request-id'), ['req-1'], form)
    if (form === 'none') continue
    assert.equal(values(seen, 'content-type'), ['text/event-stream'], form)
    assert.equal(values(seen, 'x-a'), ['1'], form)
  }
})

test("the caller's header list is left as it was given", async () => {
  const flat = ['X-Other', '1']
  const pairs = [['X-Other', '1']]
  await served((res) => {
    res.writeHead(200, flat)
    res.end()
  })
  await served((res) => {
    res.writeHead(200, pairs as unknown as string[])
    res.end()
  })
  assert.equal(flat, ['X-Other', '1'])
  assert.equal(pairs, [['X-Other', '1']])
})

test("the application's own header wins, in any letter case, set before or passed to writeHead", async () => {
  const setBefore = await served((res) => {
    res.setHeader('X-Request-ID', 'mine')
    res.end()
  })
  assert.equal(values(setBefore, 'x-request-id'), ['mine'])
  const passed = await served((res) => {
    res.writeHead(200, { 'X-Request-Id': 'theirs' })
    res.end()
  })
  assert.equal(values(passed, 'x-request-id'), ['theirs'])
  const listed = await served((res) => {
    res.writeHead(200, ['X-REQUEST-ID', 'listed'])
    res.end()
  })
  assert.equal(values(listed, 'x-request-id'), ['listed'])
})

test('a streamed response carries it from its first chunk, and the header is on the response once written', async () => {
  let before: unknown = 'unread'
  let after: unknown
  const seen = await served((res) => {
    before = res.getHeader('x-request-id')
    res.write('a')
    after = res.getHeader('x-request-id')
    res.end('b')
  })
  assert.is(before, undefined)
  assert.is(after, 'req-1')
  assert.equal(values(seen, 'x-request-id'), ['req-1'])
  assert.is(seen.body, 'ab')
})

test('a second writeHead() fails as Node fails it, without the echo in the way', async () => {
  let second: unknown
  await served((res) => {
    res.writeHead(200)
    res.flushHeaders()
    try {
      res.writeHead(500)
    } catch (error) {
      second = error
    }
    res.end()
  })
  assert.is((second as { code?: string }).code, 'ERR_HTTP_HEADERS_SENT')
})

test('on the HTTP/2 compatibility response too (the flat list is a form it takes)', async () => {
  const server = createHttp2Server((_req, res) => {
    echoHeaderOnWrite(res, 'x-request-id', 'req-2')
    res.writeHead(200, { 'content-type': 'text/plain' })
    res.end('ok')
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const client = connect(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)
  try {
    const headers = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      const stream = client.request({ ':path': '/' })
      stream.on('response', resolve)
      stream.on('error', reject)
      stream.resume()
    })
    assert.is(headers[':status'], 200)
    assert.is(headers['x-request-id'], 'req-2')
    assert.is(headers['content-type'], 'text/plain')
  } finally {
    await new Promise<void>((resolve) => client.close(() => resolve()))
    await new Promise((resolve) => server.close(resolve))
  }
})

test.run()
