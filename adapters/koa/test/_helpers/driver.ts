import { Readable } from 'node:stream'
import Router from '@koa/router'
import { runningServer, type ConformanceOptions, type ConformanceRoute, type FrameworkDriver, type RunningServer } from '@lifeguard/http-conformance'
import Koa from 'koa'
import { lifeguard } from '../../src/index.js'

/** Listens on 127.0.0.1, port 0. */
export function listen(app: Koa<any, any>): Promise<RunningServer> {
  return runningServer(app.listen(0, '127.0.0.1'))
}

/** An app that answers thrown errors with Koa's default 500, without logging them. */
export function quietApp(): Koa {
  const app = new Koa()
  app.silent = true
  return app
}

/** Koa with @koa/router behind the conformance suite. */
export const koaDriver: FrameworkDriver = {
  name: 'koa',
  lifeguard,
  start(options: ConformanceOptions, routes: readonly ConformanceRoute[]) {
    const app = quietApp()
    const router = new Router()
    for (const route of routes) {
      router.get(route.path, async (ctx) => {
        const reply = await route.handle({ context: ctx.state.lifeguard, params: ctx.params as Record<string, string>, setHeader: (name, value) => ctx.set(name, value) })
        if ('stream' in reply) {
          ctx.type = 'text/plain'
          ctx.body = Readable.from(reply.stream)
        } else if ('empty' in reply) {
          // Koa sends no body for these, and drops one set.
          ctx.status = reply.empty
          if (reply.headers !== undefined) ctx.set(reply.headers)
        } else {
          ctx.status = reply.status ?? 200
          if (reply.headers !== undefined) ctx.set(reply.headers)
          ctx.body = reply.json
        }
      })
    }
    const { holdBefore, ...middleware } = options
    if (holdBefore !== undefined) {
      app.use(async (ctx, next) => {
        await holdBefore(ctx.get('x-request-id') || undefined)
        await next()
      })
    }
    app.use(lifeguard(middleware))
    app.use(router.routes())
    return listen(app)
  },
}
