import { STATUS_CODES, request as httpRequest } from 'node:http'
import { gzipSync } from 'node:zlib'
import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { sampleOrder } from './_helpers/http.js'
import { adminQuery, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// One table of bad requests, run against the Express, Koa and Hono variants: each answers the same status,
// the same RFC 9457 problem (`application/problem+json`) and `x-request-id`, whatever the framework.

interface Case {
  name: string
  method?: string
  path: string
  body?: string
  contentType?: string | undefined
  status: number
  code: string
  detail: string | RegExp
  headers?: Record<string, string>
  /** The `Allow` header a 405 carries. */
  allow?: string
  /** The body as bytes, for what text cannot say (compressed, a byte-order mark). */
  bytes?: Uint8Array
}

const json = 'application/json'
const order = (fields: object) => JSON.stringify({ ...sampleOrder, ...fields })
const ID_RANGE = 'Expected the order id to be an integer from 1 to 9223372036854775807'
const LIMIT_RANGE = 'Expected `limit` to be an integer from 1 to 100'

const orderBytes = new TextEncoder().encode(order({ customer: 'a' }))

const cases: Case[] = [
  { name: 'malformed JSON', method: 'POST', path: '/orders', body: '{not json', contentType: json, status: 400, code: 'invalid_json', detail: 'The request body is not valid JSON.' },
  // Decoded leniently, the two bytes would be stored as U+FFFD, as if the client had sent that.
  {
    name: 'bytes that are not UTF-8 in a string',
    method: 'POST',
    path: '/orders',
    bytes: Uint8Array.of(...orderBytes.subarray(0, '{"customer":"'.length), 0xff, 0xfe, ...orderBytes.subarray('{"customer":"'.length)),
    contentType: json,
    status: 400,
    code: 'invalid_json',
    detail: 'The request body is not valid JSON.',
  },
  { name: 'an empty JSON body', method: 'POST', path: '/orders', body: '', contentType: json, status: 400, code: 'invalid_json', detail: 'The request body is not valid JSON.' },
  { name: 'a JSON null', method: 'POST', path: '/orders', body: 'null', contentType: json, status: 400, code: 'invalid_order', detail: /^Expected a JSON object like/ },
  { name: 'a JSON string', method: 'POST', path: '/orders', body: '"x"', contentType: json, status: 400, code: 'invalid_order', detail: /^Expected a JSON object like/ },
  { name: 'a NUL byte in customer', method: 'POST', path: '/orders', body: order({ customer: 'a\u0000b' }), contentType: json, status: 400, code: 'invalid_order', detail: 'Expected `customer` without NUL characters (\\u0000) or unpaired surrogates (\\ud800 to \\udfff).' },
  {
    name: 'a NUL byte in a sku',
    method: 'POST',
    path: '/orders',
    body: order({ items: [{ sku: 't\u0000a', quantity: 1, priceCents: 1 }] }),
    contentType: json,
    status: 400,
    code: 'invalid_order',
    detail: 'Expected `items[0].sku` without NUL characters (\\u0000) or unpaired surrogates (\\ud800 to \\udfff).',
  },
  { name: 'an invalid order', method: 'POST', path: '/orders', body: order({ customer: '' }), contentType: json, status: 400, code: 'invalid_order', detail: /^Expected `customer` to be a non-empty string/ },
  // Valid JSON, but PostgreSQL would store U+FFFD: two skus differing only there collided as one (a 500).
  { name: 'an unpaired surrogate in customer', method: 'POST', path: '/orders', body: order({ customer: 'x\ud800' }), contentType: json, status: 400, code: 'invalid_order', detail: /^Expected `customer` without NUL characters \(\\u0000\) or unpaired surrogates/ },
  {
    name: 'skus that differ only by unpaired surrogates',
    method: 'POST',
    path: '/orders',
    body: order({ items: [{ sku: 'x\ud800', quantity: 1, priceCents: 1 }, { sku: 'x\udbff', quantity: 1, priceCents: 1 }] }),
    contentType: json,
    status: 400,
    code: 'invalid_order',
    detail: /^Expected `items\[0\]\.sku` without NUL characters/,
  },
  { name: 'a gzip-encoded body', method: 'POST', path: '/orders', bytes: gzipSync(order({})), contentType: json, headers: { 'content-encoding': 'gzip' }, status: 415, code: 'unsupported_media_type', detail: /^Send the request body as JSON/ },
  { name: 'an unknown content-encoding', method: 'POST', path: '/orders', body: order({}), contentType: json, headers: { 'content-encoding': 'bogus' }, status: 415, code: 'unsupported_media_type', detail: /^Send the request body as JSON/ },
  { name: 'a UTF-16 charset', method: 'POST', path: '/orders', body: order({}), contentType: 'application/json; charset=utf-16', status: 415, code: 'unsupported_media_type', detail: /^Send the request body as JSON/ },
  { name: 'an empty chunked body', method: 'POST', path: '/orders', bytes: new Uint8Array(0), contentType: json, headers: { 'transfer-encoding': 'chunked' }, status: 400, code: 'invalid_json', detail: 'The request body is not valid JSON.' },
  { name: 'a bad % escape in the id', path: '/orders/%', status: 400, code: 'invalid_id', detail: `${ID_RANGE}, got \`"%"\`.` },
  { name: 'no content-type', method: 'POST', path: '/orders', body: order({}), contentType: undefined, status: 415, code: 'unsupported_media_type', detail: /^Send the request body as JSON/ },
  { name: 'a text/plain body', method: 'POST', path: '/orders', body: order({}), contentType: 'text/plain', status: 415, code: 'unsupported_media_type', detail: /^Send the request body as JSON/ },
  { name: 'a body above 100 kB', method: 'POST', path: '/orders', body: order({ customer: 'a'.repeat(200_000) }), contentType: json, status: 413, code: 'body_too_large', detail: 'The request body is larger than 100 kB.' },
  // No content-length to refuse it by: refused as it streams in, and the answer must still reach a client
  // that is sending the rest (sent with node:http, which reads an answer that comes before its body is done).
  {
    name: 'a chunked body above 100 kB',
    method: 'POST',
    path: '/orders',
    body: order({ customer: 'a'.repeat(200_000) }),
    contentType: json,
    headers: { 'transfer-encoding': 'chunked' },
    status: 413,
    code: 'body_too_large',
    detail: 'The request body is larger than 100 kB.',
  },
  { name: 'id abc', path: '/orders/abc', status: 400, code: 'invalid_id', detail: `${ID_RANGE}, got \`"abc"\`.` },
  { name: 'id 1.5', path: '/orders/1.5', status: 400, code: 'invalid_id', detail: `${ID_RANGE}, got \`"1.5"\`.` },
  { name: 'id 0', path: '/orders/0', status: 400, code: 'invalid_id', detail: `${ID_RANGE}, got \`"0"\`.` },
  { name: 'an id above bigint', path: '/orders/9223372036854775808', status: 400, code: 'invalid_id', detail: new RegExp(`^${ID_RANGE}`) },
  { name: 'an unknown order', path: '/orders/999999999', status: 404, code: 'not_found', detail: 'No order 999999999.' },
  { name: 'limit abc', path: '/orders?limit=abc', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got \`"abc"\`.` },
  { name: 'limit -1', path: '/orders?limit=-1', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got \`"-1"\`.` },
  { name: 'limit 100000', path: '/orders?limit=100000', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got \`"100000"\`.` },
  { name: 'limit 0', path: '/orders?limit=0', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got \`"0"\`.` },
  { name: 'an empty limit', path: '/orders?limit=', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got \`""\`.` },
  { name: 'limit given twice', path: '/orders?limit=5&limit=6', status: 400, code: 'invalid_limit', detail: `${LIMIT_RANGE}, got 2 values.` },
  { name: 'an unknown route', path: '/nope', status: 404, code: 'route_not_found', detail: 'No route for GET /nope.' },
  { name: 'a method the route does not take', method: 'DELETE', path: '/orders/1', status: 405, code: 'method_not_allowed', detail: '/orders/1 takes GET, HEAD, not DELETE.', allow: 'GET, HEAD' },
  { name: 'a method the collection does not take', method: 'PUT', path: '/orders', status: 405, code: 'method_not_allowed', detail: '/orders takes GET, HEAD, POST, not PUT.', allow: 'GET, HEAD, POST' },
  { name: 'a write to the health check', method: 'POST', path: '/health', body: '{}', contentType: json, status: 405, code: 'method_not_allowed', detail: '/health takes GET, HEAD, not POST.', allow: 'GET, HEAD' },
  { name: 'an unknown method on an unknown route', method: 'DELETE', path: '/orders/1/items', status: 404, code: 'route_not_found', detail: 'No route for DELETE /orders/1/items.' },
]

const variants = [
  { framework: 'express', entry: 'src/main.ts' },
  { framework: 'koa', entry: 'src/koa.ts' },
  { framework: 'hono', entry: 'src/hono.ts' },
]

interface Answer {
  status: number
  contentType: string
  connection: string | null
  requestId: string | null
  allow: string | null
  body: Record<string, unknown> | string
}

async function send(url: string, request: { method?: string; body?: string; bytes?: Uint8Array; contentType?: string | undefined; headers?: Record<string, string> }, requestId: string): Promise<Answer> {
  const headers: Record<string, string> = { 'x-request-id': requestId, ...request.headers }
  if (request.contentType !== undefined) headers['content-type'] = request.contentType
  // A body sent as bytes, so fetch adds no content-type of its own.
  const bytes = request.bytes ?? (request.body === undefined ? undefined : new TextEncoder().encode(request.body))
  if (headers['transfer-encoding'] === 'chunked') return sendChunked(url, request.method ?? 'POST', headers, bytes ?? new Uint8Array(0))
  const response = await fetch(url, { method: request.method ?? 'GET', headers, ...(bytes === undefined ? {} : { body: bytes }) })
  const text = await response.text()
  return answer(response.status, (name) => response.headers.get(name), text)
}

function answer(status: number, header: (name: string) => string | null, text: string): Answer {
  const contentType = header('content-type') ?? ''
  return { status, contentType, connection: header('connection'), requestId: header('x-request-id'), allow: header('allow'), body: contentType.includes('json') ? JSON.parse(text) : text }
}

/**
 * Sends `bytes` chunked (no content-length) with node:http, 16 kB a chunk, as a client streaming an upload
 * does, and stops sending once the answer has come: a server may answer before it has read the whole body.
 * Rejects when the connection fails before the answer is complete.
 */
function sendChunked(url: string, method: string, headers: Record<string, string>, bytes: Uint8Array): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const client = httpRequest(url, { method, headers })
    // A server that stops reading and never answers fails the case instead of holding the suite.
    client.setTimeout(10_000, () => client.destroy(new Error(`No answer within 10 s to a chunked ${method} of ${bytes.length} bytes.`)))
    let answered = false
    client.once('response', (response) => {
      answered = true
      let text = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => (text += chunk))
      response.once('error', reject)
      response.once('end', () => {
        client.destroy()
        const header = (name: string): string | null => {
          const value = response.headers[name]
          return value === undefined ? null : String(value)
        }
        resolve(answer(response.statusCode ?? 0, header, text))
      })
    })
    // After the answer, the server may close the connection under a body still being sent, as a 413's
    // `Connection: close` says it will: not a failure of the request.
    client.on('error', (error) => {
      if (!answered) reject(error)
    })
    let offset = 0
    const sendMore = (): void => {
      while (!answered && offset < bytes.length) {
        const chunk = bytes.subarray(offset, offset + 16 * 1024)
        offset += chunk.length
        if (!client.write(chunk)) return void client.once('drain', sendMore)
      }
      if (!answered) client.end()
    }
    sendMore()
  })
}

// What each framework answered, by case, compared across frameworks at the end.
const answers = new Map<string, Map<string, unknown>>()

for (const { framework, entry } of variants) {
  const schema = scratchName(`orders_errors_${framework}`)
  const appName = schema.replaceAll('_', '-')
  let service: ServiceProcess | undefined
  const seen = new Map<string, unknown>()
  answers.set(framework, seen)

  const Errors = suite(`orders-api errors on ${framework}`)

  Errors.before(async () => {
    service = await startService({ DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined }, { entry })
  })

  Errors.after(async () => {
    const exit = await service?.stop('SIGTERM')
    if (exit !== undefined && exit.code !== 0) await service?.stop('SIGKILL')
    await waitForConnectionCount(appName, 0)
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })

  for (const [index, c] of cases.entries()) {
    Errors(`${c.name}: ${c.status} ${c.code} as application/problem+json with x-request-id`, async () => {
      const requestId = `errors-${framework}-${index}`
      const answer = await send(`${service!.url}${c.path}`, c, requestId)
      const detail = `${framework} ${c.method ?? 'GET'} ${c.path}: ${JSON.stringify(answer)}`.slice(0, 600)
      assert.is(answer.status, c.status, detail)
      assert.match(answer.contentType, /^application\/problem\+json(;|$)/, detail)
      assert.is(answer.requestId, requestId, 'the caller\'s request id is echoed')
      // A body refused unread leaves the connection unusable: the answer says it closes it.
      if (c.status === 413) assert.is(answer.connection, 'close', detail)
      // A 405 says which methods the resource takes (RFC 9110, 15.5.6); nothing else sends Allow.
      assert.is(answer.allow, c.allow ?? null, detail)
      const body = answer.body as Record<string, unknown>
      assert.equal(Object.keys(body).sort(), ['code', 'detail', 'requestId', 'status', 'title', 'type'], detail)
      assert.equal({ type: body.type, title: body.title, status: body.status, code: body.code, requestId: body.requestId }, { type: 'about:blank', title: STATUS_CODES[c.status], status: c.status, code: c.code, requestId }, detail)
      if (typeof c.detail === 'string') assert.is(body.detail, c.detail, detail)
      else assert.match(String(body.detail), c.detail, detail)
      seen.set(c.name, { status: answer.status, body: { ...body, requestId: undefined } })
    })
  }

  Errors('every other response carries x-request-id too, and valid requests still succeed', async () => {
    const url = service!.url
    for (const path of ['/health', '/metrics', '/metrics/pools', '/orders', '/orders?limit=100', '/orders?limit=1']) {
      const answer = await send(`${url}${path}`, {}, 'ok-1')
      assert.is(answer.status, 200, path)
      assert.is(answer.requestId, 'ok-1', path)
    }
    const created = await send(`${url}/orders`, { method: 'POST', body: order({}), contentType: 'application/json; charset=utf-8' }, 'ok-2')
    assert.is(created.status, 201)
    assert.is(created.requestId, 'ok-2')
    const id = (created.body as { id: string }).id
    const read = await send(`${url}/orders/${id}`, {}, 'ok-3')
    assert.is(read.status, 200)
    assert.is((read.body as { id: string }).id, id)
    // A trailing slash is the same resource on every framework.
    const slashed = await send(`${url}/orders/${id}/`, {}, 'ok-4')
    assert.is(slashed.status, 200, `${framework} /orders/${id}/`)
    // A byte-order mark before the JSON is no part of it.
    const marked = await send(`${url}/orders`, { method: 'POST', bytes: new Uint8Array([0xef, 0xbb, 0xbf, ...new TextEncoder().encode(order({}))]), contentType: 'application/json' }, 'ok-5')
    assert.is(marked.status, 201, `${framework} BOM`)
    // No id sent: the service makes one up and still answers with it.
    const generated = await fetch(`${url}/nope`)
    await generated.text()
    assert.match(generated.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)
  })

  Errors.run()
}

const Same = suite('orders-api errors across frameworks')

Same('Express, Koa and Hono answer every case with the same status and problem', () => {
  const [first, ...others] = variants.map((v) => v.framework)
  for (const c of cases) {
    const expected = answers.get(first!)?.get(c.name)
    assert.ok(expected !== undefined, `${first} answered ${c.name}`)
    for (const other of others) assert.equal(answers.get(other)?.get(c.name), expected, `${other} vs ${first}: ${c.name}`)
  }
})

Same.run()
