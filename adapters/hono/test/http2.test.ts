import { once } from 'node:events'
import { createServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { serve } from '@hono/node-server'
import { resetDuringHandler, resetProbe } from '@lifeguard/http-conformance'
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
    const context = c.var.lifeguard
    context.get('held')
    context.signal.addEventListener('abort', () => void probe.seen.push('aborted'))
    probe.entered()
    // Still working once the client is gone: the scope must not be disposed under it.
    await Promise.race([once(context.signal, 'abort'), delay(5_000)])
    await delay(10)
    probe.seen.push(`handler done, disposed: ${context.disposed}`)
    return c.text('late')
  })
  const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1', createServer })
  await once(server, 'listening')
  try {
    await resetDuringHandler((server.address() as AddressInfo).port, probe)
    assert.equal(probe.seen, ['aborted', 'handler done, disposed: false', 'disposed'])
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

test.run()
