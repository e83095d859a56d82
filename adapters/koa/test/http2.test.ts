import { once } from 'node:events'
import { createServer } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { setTimeout as delay } from 'node:timers/promises'
import { OperationContext } from '@lifeguard/core'
import { resetDuringHandler, resetProbe } from '@lifeguard/http-conformance'
import Koa from 'koa'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'

const test = suite('Koa on HTTP/2')

test('a stream the client resets aborts the signal, and the scope waits for the handler', async () => {
  const probe = resetProbe()
  const app = new Koa()
  app.use(lifeguard({ container: probe.container }))
  app.use(async (ctx) => {
    const context = OperationContext.current()
    context.get('held')
    context.signal.addEventListener('abort', () => void probe.seen.push('aborted'))
    probe.entered()
    // Still working once the client is gone: the scope must not be disposed under it.
    await Promise.race([once(context.signal, 'abort'), delay(5_000)])
    await delay(10)
    probe.seen.push(`handler done, disposed: ${context.disposed}`)
    ctx.body = 'late'
  })
  const server = createServer(app.callback()).listen(0, '127.0.0.1')
  await once(server, 'listening')
  try {
    await resetDuringHandler((server.address() as AddressInfo).port, probe)
    assert.equal(probe.seen, ['aborted', 'handler done, disposed: false', 'disposed'])
  } finally {
    await new Promise((resolve) => server.close(resolve))
  }
})

test.run()
