// The orders service on Koa 3: only the app differs from main.ts (Express); the pools, warm-up, health,
// metrics and graceful shutdown are the same code. Run it with `npm start -- koa`.
import { createServer } from 'node:http'
import Router from '@koa/router'
import { lifeguard } from '@lifeguard/koa'
import Koa from 'koa'
import { parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { PROBLEM_CONTENT_TYPE, RequestError, problemFrom, routeNotFound } from './problems.js'
import { parseJson, readBody, requireJson } from './request-body.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

function createKoaApp(service: OrdersService): Koa {
  const app = new Koa()
  // What reaches Koa's own error event happens outside the middleware below: the socket failing under a
  // request, typically a client that went away mid-body. Koa's default prints a stack trace for each; a client
  // leaving is not worth a line, anything else gets one.
  app.on('error', (error: Error, ctx?: Koa.Context) => {
    if (ctx?.req.destroyed === true) return
    log(`${ctx?.method ?? '-'} ${ctx?.path ?? '-'} connection error: ${error.message}`)
  })
  // Outermost: every error, and a path no route serves, becomes one problem+json shape (src/problems.ts).
  app.use(async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body == null) throw routeNotFound(ctx.method, ctx.path)
    } catch (error) {
      const requestId = (ctx.state as { lifeguard?: { requestId?: string } }).lifeguard?.requestId
      const { problem, headers, unexpected } = problemFrom(error, requestId)
      if (unexpected) log(`${ctx.method} ${ctx.path} failed (request ${requestId ?? '-'}): ${error instanceof Error ? error.message : String(error)}`)
      ctx.status = problem.status
      ctx.set(headers)
      ctx.type = PROBLEM_CONTENT_TYPE
      ctx.body = JSON.stringify(problem)
    }
  })
  // Next, so every response carries `x-request-id`; `ctx.state.lifeguard` in place of `req.lifeguard`.
  app.use(lifeguard({ container: service.container, handlerName: 'orders-api' }))

  const router = new Router()
  router.get('/health', (ctx) => {
    const health = service.health()
    ctx.status = health.status === 'ok' ? 200 : 503
    ctx.body = health
  })
  router.get('/metrics/pools', (ctx) => {
    ctx.body = service.poolMetrics()
  })
  router.get('/metrics', async (ctx) => {
    ctx.type = service.metrics.contentType
    ctx.body = await service.metrics.scrape()
  })
  router.post('/orders', async (ctx) => {
    // Koa has no body parser built in; src/request-body.ts applies the same rules as express.json().
    requireJson(ctx.get('content-type') || undefined, ctx.get('content-encoding') || undefined)
    const order = parseNewOrder(parseJson(await readBody(ctx.req)))
    const created = await ctx.state.lifeguard.get<OrdersRepository>('orders').create(order)
    ctx.status = 201
    ctx.set('Location', `/orders/${created.id}`)
    ctx.body = created
  })
  router.get('/orders/:id', async (ctx) => {
    const id = parseOrderId(ctx.params.id)
    const order = await ctx.state.lifeguard.get<OrdersRepository>('orders').find(id)
    if (order === undefined) throw new RequestError(404, 'not_found', `No order ${id}.`)
    ctx.body = order
  })
  router.get('/orders', async (ctx) => {
    ctx.body = await ctx.state.lifeguard.get<OrdersRepository>('orders').list(parseLimit(ctx.query.limit))
  })
  app.use(router.routes())
  return app
}

runHttpService('koa', (service) => createServer(createKoaApp(service).callback()))
