import type { AddressInfo } from 'node:net'
import type { Server } from 'node:http'
import { createRequire } from 'node:module'
import { serve } from '@hono/node-server'
import type { ConformanceOptions, ConformanceRoute, FrameworkDriver, RunningServer } from '@lifeguard/http-conformance'
import { Hono } from 'hono'
import { lifeguard } from '../../src/index.js'

/** Which of Hono's builds an application loads: `import` gets the ESM build, `require` the CommonJS one. */
export type HonoBuild = 'esm' | 'cjs'

/**
 * The `Hono` class of one build, loaded the way an application would. (Test files run as CommonJS here, so a
 * static `import` would give the CommonJS build too.)
 */
export async function honoOf(build: HonoBuild): Promise<typeof Hono> {
  if (build === 'cjs') return (createRequire(import.meta.url)('hono') as { Hono: typeof Hono }).Hono
  return (await import('hono')).Hono
}

/**
 * Serves `app` with @hono/node-server on 127.0.0.1, port 0. `portable` hides the Node request and response
 * from the app (`c.env`), as on fetch-style runtimes.
 */
export function listen(app: Hono<any, any, any>, portable = false): Promise<RunningServer> {
  const fetch = portable ? (request: Request) => app.fetch(request) : app.fetch
  return new Promise((resolve) => {
    const server = serve({ fetch, port: 0, hostname: '127.0.0.1' }, (info: AddressInfo) => {
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
export function quietApp(HonoClass: typeof Hono = Hono): Hono {
  const app = new HonoClass()
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

/** Hono behind the conformance suite: its ESM or CommonJS build, on @hono/node-server, seen as Node or as a fetch-style runtime. */
export function honoDriver(name: string, build: HonoBuild, portable = false): FrameworkDriver {
  return {
    name,
    lifeguard,
    async start(options: ConformanceOptions, routes: readonly ConformanceRoute[]) {
      const app = quietApp(await honoOf(build))
      const { holdBefore, ...middleware } = options
      if (holdBefore !== undefined) {
        app.use(async (c, next) => {
          await holdBefore(c.req.header('x-request-id'))
          await next()
        })
      }
      app.use(lifeguard(middleware))
      for (const route of routes) {
        app.get(route.path, async (c) => {
          const reply = await route.handle({ context: c.var.lifeguard, params: c.req.param() as Record<string, string>, setHeader: (name, value) => c.header(name, value) })
          if ('stream' in reply) return c.body(byteStream(reply.stream), 200, { 'Content-Type': 'text/plain' })
          if ('empty' in reply) return c.body(null, reply.empty, reply.headers)
          return c.json(reply.json as Record<string, never>, (reply.status ?? 200) as 200, reply.headers)
        })
      }
      return listen(app, portable)
    },
  }
}
