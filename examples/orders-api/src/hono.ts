// The orders service on Hono 4 (`@hono/node-server`): only the app differs from main.ts (Express); the
// pools, warm-up, health, metrics and graceful shutdown are the same code. Run it with `npm start -- hono`.
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { lifeguard, type LifeguardEnv } from '@lifeguard/hono'
import { Hono, type Context } from 'hono'
import { bodyLimit } from 'hono/body-limit'
import { parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { MAX_BODY_BYTES, PROBLEM_CONTENT_TYPE, RequestError, problemFrom, routeNotFound } from './problems.js'
import { bodyTooLarge, decodeBody, parseJson, requireJson } from './request-body.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

function createHonoApp(service: OrdersService): Hono<LifeguardEnv> {
  // Not strict: `/orders/1/` is `/orders/1`, as on Express and Koa.
  const app = new Hono<LifeguardEnv>({ strict: false })
  // First, so every response carries `x-request-id`; `c.var.lifeguard` in place of `req.lifeguard`.
  app.use(lifeguard({ container: service.container, handlerName: 'orders-api' }))

  app.get('/health', (c) => {
    const health = service.health()
    return c.json(health, health.status === 'ok' ? 200 : 503)
  })
  app.get('/metrics/pools', (c) => c.json(service.poolMetrics()))
  app.get('/metrics', async (c) => c.text(await service.metrics.scrape(), 200, { 'Content-Type': service.metrics.contentType }))

  app.post(
    '/orders',
    // The same rules as express.json(): JSON only, at most MAX_BODY_BYTES (checked as the body streams in).
    async (c, next) => {
      requireJson(c.req.header('content-type'), c.req.header('content-encoding'))
      await next()
    },
    bodyLimit({ maxSize: MAX_BODY_BYTES, onError: () => { throw bodyTooLarge() } }),
    async (c) => {
      const order = parseNewOrder(parseJson(decodeBody(new Uint8Array(await c.req.arrayBuffer()))))
      const created = await c.var.lifeguard.get<OrdersRepository>('orders').create(order)
      return c.json(created, 201, { Location: `/orders/${created.id}` })
    },
  )
  app.get('/orders/:id', async (c) => {
    const id = parseOrderId(c.req.param('id'))
    const order = await c.var.lifeguard.get<OrdersRepository>('orders').find(id)
    if (order === undefined) throw new RequestError(404, 'not_found', `No order ${id}.`)
    return c.json(order)
  })
  app.get('/orders', async (c) => c.json(await c.var.lifeguard.get<OrdersRepository>('orders').list(parseLimit(c.req.queries('limit')))))

  // Every error, and a path no route serves, becomes one problem+json shape (src/problems.ts).
  app.notFound((c) => problem(c, routeNotFound(c.req.method, c.req.path)))
  app.onError((error, c) => problem(c, error))
  return app
}

function problem(c: Context<LifeguardEnv>, error: unknown): Response {
  const requestId = (c.var as { lifeguard?: { requestId?: string } }).lifeguard?.requestId
  const { problem, headers, unexpected } = problemFrom(error, requestId)
  if (unexpected) log(`${c.req.method} ${c.req.path} failed (request ${requestId ?? '-'}): ${error instanceof Error ? error.message : String(error)}`)
  return c.body(JSON.stringify(problem), problem.status as 400, { ...headers, 'Content-Type': PROBLEM_CONTENT_TYPE })
}

runHttpService('hono', (service) => createAdaptorServer({ fetch: createHonoApp(service).fetch }) as Server)
