// The orders service on Hono 4 (`@hono/node-server`): only the app differs from main.ts (Express); the
// pools, warm-up, health, metrics and graceful shutdown are the same code. Run it with `npm start -- hono`.
import type { Server } from 'node:http'
import { createAdaptorServer } from '@hono/node-server'
import { lifeguard, type LifeguardEnv } from '@lifeguard/hono'
import { Hono } from 'hono'
import { InvalidOrderError, parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

function createHonoApp(service: OrdersService): Hono<LifeguardEnv> {
  const app = new Hono<LifeguardEnv>()
  app.get('/health', (c) => {
    const health = service.health()
    return c.json(health, health.status === 'ok' ? 200 : 503)
  })
  app.get('/metrics/pools', (c) => c.json(service.poolMetrics()))
  app.get('/metrics', async (c) => c.text(await service.metrics.scrape(), 200, { 'Content-Type': service.metrics.contentType }))

  // `c.var.lifeguard` in place of `req.lifeguard`; Hono maps pool pressure to 503 itself with `mapErrors`.
  const context = lifeguard({ container: service.container, handlerName: 'orders-api', mapErrors: { retryAfterSeconds: 1 } })
  app.use('/orders', context)
  app.use('/orders/*', context)
  app.post('/orders', async (c) => {
    const created = await c.var.lifeguard.get<OrdersRepository>('orders').create(parseNewOrder(await c.req.json()))
    return c.json(created, 201, { Location: `/orders/${created.id}` })
  })
  app.get('/orders/:id', async (c) => {
    const id = parseOrderId(c.req.param('id'))
    const order = id === undefined ? undefined : await c.var.lifeguard.get<OrdersRepository>('orders').find(id)
    return order === undefined ? c.json({ error: 'not_found', message: `No order '${c.req.param('id')}'.` }, 404) : c.json(order)
  })
  app.get('/orders', async (c) => c.json(await c.var.lifeguard.get<OrdersRepository>('orders').list(parseLimit(c.req.query('limit')))))

  app.onError((error, c) => {
    if (error instanceof InvalidOrderError || error instanceof SyntaxError) return c.json({ error: 'invalid_order', message: error.message }, 400)
    log(`${c.req.method} ${c.req.path} failed: ${error.message}`)
    return c.json({ error: 'internal', message: 'Something went wrong; the log has the details.' }, 500)
  })
  return app
}

runHttpService('hono', (service) => createAdaptorServer({ fetch: createHonoApp(service).fetch }) as Server)
