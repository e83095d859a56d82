import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { serve } from '@hono/node-server'
import type { ConformanceOptions, ConformanceRoute, FrameworkDriver, RunningServer } from '@lifeguard/http-conformance'
import { Hono } from 'hono'
import { lifeguard } from '../../src/index.js'

/** Serves `app` with @hono/node-server on 127.0.0.1, port 0. */
export function listen(app: Hono<any, any, any>): Promise<RunningServer> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        server: server as Server,
        close: () =>
          new Promise<void>((done, fail) => {
            ;(server as Server).closeAllConnections()
            server.close((error) => (error ? fail(error) : done()))
          }),
      })
    })
  })
}

/** An app that answers thrown errors with 500, without logging them. */
export function quietApp(): Hono {
  const app = new Hono()
  app.onError((_error, c) => c.text('Internal Server Error', 500))
  return app
}

/** Text chunks as a byte stream. */
export function byteStream(chunks: AsyncIterable<string>): ReadableStream<Uint8Array> {
  const iterator = chunks[Symbol.asyncIterator]()
  const encoder = new TextEncoder()
  return new ReadableStream({
    async pull(controller) {
      const { value, done } = await iterator.next()
      if (done) controller.close()
      else controller.enqueue(encoder.encode(value))
    },
  })
}

/** Hono on @hono/node-server behind the conformance suite. */
export const honoDriver: FrameworkDriver = {
  name: 'hono',
  start(options: ConformanceOptions, routes: readonly ConformanceRoute[]) {
    const app = quietApp()
    app.use(lifeguard(options))
    for (const route of routes) {
      app.get(route.path, async (c) => {
        const reply = await route.handle({ context: c.var.lifeguard, params: c.req.param() as Record<string, string> })
        if ('stream' in reply) return c.body(byteStream(reply.stream), 200, { 'Content-Type': 'text/plain' })
        return c.json(reply.json as object, (reply.status ?? 200) as 200)
      })
    }
    return listen(app)
  },
}
