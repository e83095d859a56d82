import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { runningServer, type ConformanceOptions, type ConformanceRoute, type FrameworkDriver, type RunningServer } from '@lifeguard/http-conformance'
import express, { type Express } from 'express'
import { lifeguard, poolErrorHandler } from '../../src/index.js'

/** Listens on 127.0.0.1, port 0. */
export function listen(app: Express): Promise<RunningServer> {
  return runningServer(app.listen(0, '127.0.0.1'))
}

/** An app whose thrown errors get Express's default 500, without logging them. */
export function quietApp(): Express {
  const app = express()
  app.set('env', 'test')
  return app
}

/** Express behind the conformance suite. */
export const expressDriver: FrameworkDriver = {
  name: 'express',
  lifeguard,
  start(options: ConformanceOptions, routes: readonly ConformanceRoute[]) {
    const { mapErrors, holdBefore, ...middleware } = options
    const app = quietApp()
    if (holdBefore !== undefined) {
      app.use((req, _res, next) => {
        const held = holdBefore(req.headers['x-request-id'] as string | undefined)
        if (held === undefined) next()
        else held.then(() => next(), next)
      })
    }
    app.use(lifeguard(middleware))
    for (const route of routes) {
      app.get(route.path, async (req, res) => {
        const reply = await route.handle({ context: req.lifeguard, params: req.params as Record<string, string>, setHeader: (name, value) => void res.setHeader(name, value) })
        if ('stream' in reply) {
          res.type('text/plain')
          await pipeline(Readable.from(reply.stream), res)
        } else if ('empty' in reply) {
          if (reply.headers !== undefined) res.set(reply.headers)
          res.status(reply.empty).end()
        } else {
          if (reply.headers !== undefined) res.set(reply.headers)
          res.status(reply.status ?? 200).json(reply.json)
        }
      })
    }
    // Express maps errors in an error handler, after the routes.
    if (mapErrors !== undefined && mapErrors !== false) app.use(poolErrorHandler(mapErrors === true ? {} : mapErrors))
    return listen(app)
  },
}
