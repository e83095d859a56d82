// The orders service on Koa 3: only the app differs from main.ts (Express); the pools, warm-up, health,
// metrics and graceful shutdown are the same code. Run it with `npm start -- koa`.
import { createServer } from 'node:http'
import Router from '@koa/router'
import { lifeguard } from '@lifeguard/koa'
import Koa from 'koa'
import { InvalidOrderError, parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

function createKoaApp(service: OrdersService): Koa {
  const app = new Koa()
  const ops = new Router()
  ops.get('/health', (ctx) => {
    const health = service.health()
    ctx.status = health.status === 'ok' ? 200 : 503
    ctx.body = health
  })
  ops.get('/metrics/pools', (ctx) => {
    ctx.body = service.poolMetrics()
  })
  ops.get('/metrics', async (ctx) => {
    ctx.type = service.metrics.contentType
    ctx.body = await service.metrics.scrape()
  })

  // `ctx.state.lifeguard` in place of `req.lifeguard`; Koa maps pool pressure to 503 itself with `mapErrors`.
  const orders = new Router()
  orders.use(lifeguard({ container: service.container, handlerName: 'orders-api', mapErrors: { retryAfterSeconds: 1 } }))
  orders.post('/orders', async (ctx) => {
    const created = await ctx.state.lifeguard.get<OrdersRepository>('orders').create(parseNewOrder(await readJson(ctx.req)))
    ctx.status = 201
    ctx.set('Location', `/orders/${created.id}`)
    ctx.body = created
  })
  orders.get('/orders/:id', async (ctx) => {
    const id = parseOrderId(ctx.params.id)
    const order = id === undefined ? undefined : await ctx.state.lifeguard.get<OrdersRepository>('orders').find(id)
    ctx.status = order === undefined ? 404 : 200
    ctx.body = order ?? { error: 'not_found', message: `No order '${ctx.params.id}'.` }
  })
  orders.get('/orders', async (ctx) => {
    ctx.body = await ctx.state.lifeguard.get<OrdersRepository>('orders').list(parseLimit(ctx.query.limit))
  })

  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      const invalid = error instanceof InvalidOrderError || error instanceof SyntaxError
      if (!invalid) log(`${ctx.method} ${ctx.path} failed: ${error instanceof Error ? error.message : String(error)}`)
      ctx.status = invalid ? 400 : 500
      ctx.body = invalid ? { error: 'invalid_order', message: (error as Error).message } : { error: 'internal', message: 'Something went wrong; the log has the details.' }
    }
  })
  app.use(ops.routes()).use(orders.routes())
  return app
}

// Koa has no body parser built in; a small one keeps the example free of another dependency.
async function readJson(req: NodeJS.ReadableStream): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
    size += bytes.length
    if (size > 100_000) throw new InvalidOrderError('The request body is larger than 100kB.')
    chunks.push(bytes)
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'))
}

runHttpService('koa', (service) => createServer(createKoaApp(service).callback()))
