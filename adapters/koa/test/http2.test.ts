import { once } from 'node:events'
import { createServer, type Http2ServerResponse } from 'node:http2'
import { OperationContext } from '@lifeguard/core'
import { outliveTheReset, resetOn, resetProbe } from '@lifeguard/http-conformance'
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
    await outliveTheReset(OperationContext.current(), probe)
    ctx.body = 'late'
  })
  await resetOn(createServer(app.callback()).listen(0, '127.0.0.1'), probe)
  assert.equal(probe.seen, ['aborted', 'handler done, disposed: false', 'disposed'])
})

test('a stream the client reset while a middleware before lifeguard() awaited still ends its operation', async () => {
  const probe = resetProbe()
  const app = new Koa()
  // An auth lookup that is still running when the client goes: lifeguard() runs after the stream closed.
  app.use(async (ctx, next) => {
    probe.entered()
    const stream = (ctx.res as unknown as Http2ServerResponse).stream
    if (!stream.closed) await once(stream, 'close')
    await next()
  })
  app.use(lifeguard({ container: probe.container }))
  app.use(async (ctx) => {
    await outliveTheReset(OperationContext.current(), probe, { entered: false })
    ctx.body = 'late'
  })
  await resetOn(createServer(app.callback()).listen(0, '127.0.0.1'), probe)
  assert.equal(probe.seen, ['aborted', 'handler done, disposed: false', 'disposed'])
})

test.run()
