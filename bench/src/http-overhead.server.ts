// One server of the http-overhead benchmark: `http-overhead.server.ts FRAMEWORK VARIANT`, listening on
// 127.0.0.1 port 0 and announcing its URL. GET /orders/:id answers a small JSON document.
//   bare       the framework alone
//   als-only   plus a hand-written middleware doing only `als.run(store, next)`: the floor of any context library
//   lifeguard  plus lifeguard(): scope + context + dispose; the handler resolves one scoped and one singleton service
//   awilix     plus awilix: a scope per request (awilix-express / awilix-koa / by hand on Hono), ALS, and an
//              explicit scope dispose when the response is done
import { AsyncLocalStorage } from 'node:async_hooks'
import type { Server } from 'node:http'
import { asFunction, asValue, createContainer, type AwilixContainer } from 'awilix'
import { announceListening } from './lib/listening.js'
import { bareOrder, config, lifeguardContainer, OrdersRepo, type Config } from './lib/orders-service.js'

// Each server loads its own framework only, as an application would: what else a process has loaded
// moves V8's heap and compiler heuristics, and with them the counts (in express-steps.server.ts the
// adapter counted 143k instructions a request on Node 24 with Koa loaded beside it, 175k to 251k without).
export const frameworks = ['express', 'koa', 'hono'] as const
export const variants = ['bare', 'als-only', 'lifeguard', 'awilix'] as const
export type Framework = (typeof frameworks)[number]
export type Variant = (typeof variants)[number]

const als = new AsyncLocalStorage<object>()

function awilixContainer(): AwilixContainer {
  const container = createContainer({ strict: true })
  container.register({
    config: asValue(config),
    orders: asFunction(({ config }: { config: Config }) => new OrdersRepo(config)).scoped(),
  })
  return container
}

async function expressServer(variant: Variant): Promise<Server> {
  const { default: express } = await import('express')
  const { lifeguard: lifeguardExpress } = await import('@lifeguard/express')
  const app = express()
  app.set('etag', false)
  if (variant === 'als-only') app.use((_req, _res, next) => als.run({}, next))
  if (variant === 'lifeguard') {
    app.use(lifeguardExpress({ container: lifeguardContainer() }))
    app.get('/orders/:id', (req, res) => {
      const context = req.lifeguard
      context.get('config')
      res.json(context.get<OrdersRepo>('orders').find(req.params.id))
    })
  } else if (variant === 'awilix') {
    const { scopePerRequest } = await import('awilix-express')
    app.use(scopePerRequest(awilixContainer()))
    app.use((req, res, next) => {
      const scope = (req as { container?: AwilixContainer }).container!
      res.on('close', () => void scope.dispose())
      als.run(scope, next)
    })
    app.get('/orders/:id', (req, res) => {
      const scope = (req as { container?: AwilixContainer }).container!
      scope.resolve('config')
      res.json(scope.resolve<OrdersRepo>('orders').find(req.params.id))
    })
  }
  if (variant === 'bare' || variant === 'als-only') app.get('/orders/:id', (req, res) => void res.json(bareOrder(req.params.id)))
  return app.listen(0, '127.0.0.1')
}

async function koaServer(variant: Variant): Promise<Server> {
  const { default: Koa } = await import('koa')
  const { default: Router } = await import('@koa/router')
  const { lifeguard: lifeguardKoa } = await import('@lifeguard/koa')
  const app = new Koa()
  const router = new Router()
  if (variant === 'als-only') app.use((_ctx, next) => als.run({}, next))
  if (variant === 'lifeguard') {
    app.use(lifeguardKoa({ container: lifeguardContainer() }))
    router.get('/orders/:id', (ctx) => {
      const context = ctx.state.lifeguard
      context.get('config')
      ctx.body = context.get<OrdersRepo>('orders').find(ctx.params['id']!)
    })
  } else if (variant === 'awilix') {
    const { scopePerRequest } = await import('awilix-koa')
    app.use(scopePerRequest(awilixContainer()))
    app.use(async (ctx, next) => {
      const scope = ctx.state['container'] as AwilixContainer
      try {
        await als.run(scope, next)
      } finally {
        await scope.dispose()
      }
    })
    router.get('/orders/:id', (ctx) => {
      const scope = ctx.state['container'] as AwilixContainer
      scope.resolve('config')
      ctx.body = scope.resolve<OrdersRepo>('orders').find(ctx.params['id']!)
    })
  } else {
    router.get('/orders/:id', (ctx) => void (ctx.body = bareOrder(ctx.params['id']!)))
  }
  app.use(router.routes())
  return app.listen(0, '127.0.0.1')
}

async function honoServer(variant: Variant): Promise<Server> {
  const { Hono } = await import('hono')
  const { serve } = await import('@hono/node-server')
  const { lifeguard: lifeguardHono } = await import('@lifeguard/hono')
  const app = new Hono()
  if (variant === 'als-only') app.use((_c, next) => als.run({}, next))
  if (variant === 'lifeguard') {
    app.use(lifeguardHono({ container: lifeguardContainer() }))
    app.get('/orders/:id', (c) => {
      const context = c.get('lifeguard')
      context.get('config')
      return c.json(context.get<OrdersRepo>('orders').find(c.req.param('id')))
    })
  } else if (variant === 'awilix') {
    const container = awilixContainer()
    app.use(async (c, next) => {
      const scope = container.createScope()
      c.set('container' as never, scope as never)
      try {
        await als.run(scope, next)
      } finally {
        await scope.dispose()
      }
    })
    app.get('/orders/:id', (c) => {
      const scope = c.get('container' as never) as AwilixContainer
      scope.resolve('config')
      return c.json(scope.resolve<OrdersRepo>('orders').find(c.req.param('id')))
    })
  } else {
    app.get('/orders/:id', (c) => c.json(bareOrder(c.req.param('id'))))
  }
  return serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }) as Server
}

const servers: Record<Framework, (variant: Variant) => Promise<Server>> = { express: expressServer, koa: koaServer, hono: honoServer }

const [framework, variant] = process.argv.slice(2) as [Framework, Variant]
if (!frameworks.includes(framework) || !variants.includes(variant)) {
  console.error(`Usage: http-overhead.server.ts (${frameworks.join('|')}) (${variants.join('|')})`)
  process.exit(2)
}
const server = await servers[framework](variant)
server.once('listening', () => announceListening(server))
process.once('SIGTERM', () => server.close(() => process.exit(0)))
