import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { operationNameOf, pathOf, requestIdFrom, requestIdGenerator } from '../../src/http.js'

const test = suite('request ids and operation names')

test('keeps a sane request id and replaces anything else with a UUID', () => {
  assert.is(requestIdFrom('req-42.a:b_c'), 'req-42.a:b_c')
  assert.is(requestIdFrom('b'.repeat(128)), 'b'.repeat(128))
  for (const bad of ['', 'has space', 'x'.repeat(129), 'evil\r\nSet-Cookie: a=b', undefined, null, ['a', 'b']]) {
    const id = requestIdFrom(bad as string | undefined)
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, `replaces ${JSON.stringify(bad)}`)
  }
  assert.is.not(requestIdFrom(undefined), requestIdFrom(undefined))
})

test('a generator makes UUID-shaped ids that count up from a random base, and never repeat', () => {
  const uuidShape = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
  const newRequestId = requestIdGenerator()
  // Past 2^16 ids, so every digit of the counter has carried at least once.
  const ids = Array.from({ length: 70_000 }, () => newRequestId())
  for (const id of ids) assert.match(id, uuidShape)
  assert.is(new Set(ids).size, ids.length)
  assert.ok(ids.every((id) => id.slice(0, 28) === ids[0]!.slice(0, 28)), 'one base')
  assert.equal(ids.slice(0, 3).map((id) => id.slice(28)), ['00000000', '00000001', '00000002'])
  assert.ok(ids.every((id, count) => id.slice(28) === count.toString(16).padStart(8, '0')), 'the last 8 digits count in hex')
  // Two generators (two middlewares, two processes) draw their own bases.
  assert.is.not(requestIdGenerator()().slice(0, 28), ids[0]!.slice(0, 28))
  // A missing id gets the middleware's generator's next one.
  assert.is(requestIdFrom(undefined, newRequestId), `${ids[0]!.slice(0, 28)}00011170`)
})

test('names an operation METHOD pattern, or METHOD path without the query string', () => {
  assert.is(operationNameOf('GET', '/orders/:id', '/orders/42'), 'GET /orders/:id')
  assert.is(operationNameOf('POST', undefined, '/orders?dry=1'), 'POST /orders')
  assert.is(operationNameOf('GET', /^\/re$/, '/re'), 'GET /^\\/re$/')
  assert.is(pathOf(undefined), '/')
  assert.is(pathOf('/a/b?c=d?e'), '/a/b')
  // A request line in absolute form names its path only; a long path (a scanner's) is cut.
  assert.is(pathOf('http://evil.example/x%0a?q=1'), '/x%0a')
  assert.is(pathOf('http://evil.example'), '/')
  assert.is(pathOf(`/${'a'.repeat(1000)}`), `/${'a'.repeat(199)}...`)
})

test.run()
