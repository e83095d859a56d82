import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { mountPathLeft } from '../../src/internal/route-name.js'

const test = suite('mountPathLeft: the mount path Express has put back in front of a route it left')

test("is empty inside the route's own router", () => {
  assert.is(mountPathLeft('/orders/42', '/orders/:id'), '')
  assert.is(mountPathLeft('/orders/42?x=1', '/orders/:id'), '')
  assert.is(mountPathLeft('/orders/42/', '/orders/:id'), '')
  assert.is(mountPathLeft('/', '/'), '')
})

test('is the mount path once the request is back in a router above', () => {
  assert.is(mountPathLeft('/api/orders/42', '/orders/:id'), '/api')
  assert.is(mountPathLeft('/t/acme/orders/42/?x=1', '/orders/:id/'), '/t/acme')
  assert.is(mountPathLeft('/api', '/'), '/api')
  assert.is(mountPathLeft('/api/', '/'), '/api')
  assert.is(mountPathLeft('/api/files/a.txt', '/files/:name.:ext'), '/api')
})

test('leaves the scheme and host of an absolute-form request target out', () => {
  assert.is(mountPathLeft('http://example.test/api/orders/42', '/orders/:id'), '/api')
  assert.is(mountPathLeft('http://example.test/orders/42', '/orders/:id'), '')
})

test('is empty where the pattern does not tell how many segments it matched, or matched more than there are', () => {
  assert.is(mountPathLeft('/api/files/a/b', '/files/*path'), '')
  assert.is(mountPathLeft('/api/orders', '/orders{/:id}'), '')
  assert.is(mountPathLeft('/a', '/x/:y/:z'), '')
})

test.run()
