import { createServer, type Http2Server } from 'node:http2'
import { serve } from '@hono/node-server'
import { outliveTheReset, resetOn, resetProbe } from '@lifeguard/http-conformance'
import { Hono } from 'hono'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'

const test = suite('Hono on HTTP/2 (@hono/node-server)')

test('a stream the client resets aborts the signal, and the scope waits for the handler', async () => {
  const probe = resetProbe()
  const app = new Hono()
  app.use(lifeguard({ container: probe.container }))
  app.get('/', async (c) => {
    await outliveTheReset(c.var.lifeguard, probe)
    return c.text('late')
  })
  await resetOn(serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer }) as Http2Server, probe)
  assert.equal(probe.seen, ['aborted', 'handler done, disposed: false', 'disposed'])
})

test.run()
