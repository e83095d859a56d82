// The orders service on Express 5. Run it from the repository root with `npm start`.
import { createServer } from 'node:http'
import { lifeguard, poolErrorHandler } from '@lifeguard/express'
import express, { type ErrorRequestHandler } from 'express'
import { InvalidOrderError, parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

/** The Express app: operational endpoints, then the order routes, each request in its own operation. */
function createExpressApp(service: OrdersService): express.Express {
  const app = express()
  app.disable('x-powered-by')

  // Operational endpoints come before `lifeguard()`: they touch no database and need no scope.
  app.get('/health', (_req, res) => {
    const health = service.health()
    res.status(health.status === 'ok' ? 200 : 503).json(health)
  })
  app.get('/metrics/pools', (_req, res) => {
    res.json(service.poolMetrics())
  })
  app.get('/metrics', async (_req, res) => {
    res.type(service.metrics.contentType).send(await service.metrics.scrape())
  })

  app.use(express.json({ limit: '100kb' }))
  // From here on every request has `req.lifeguard`: its own scope, disposed when the response ends.
  app.use(lifeguard({ container: service.container, handlerName: 'orders-api' }))

  app.post('/orders', async (req, res) => {
    const order = parseNewOrder(req.body)
    const created = await req.lifeguard.get<OrdersRepository>('orders').create(order)
    res.status(201).location(`/orders/${created.id}`).json(created)
  })
  app.get('/orders/:id', async (req, res) => {
    const id = parseOrderId(req.params.id)
    const order = id === undefined ? undefined : await req.lifeguard.get<OrdersRepository>('orders').find(id)
    if (order === undefined) return void res.status(404).json({ error: 'not_found', message: `No order '${req.params.id}'.` })
    res.json(order)
  })
  app.get('/orders', async (req, res) => {
    res.json(await req.lifeguard.get<OrdersRepository>('orders').list(parseLimit(req.query.limit)))
  })

  // A pool that is out of connections answers 503 + Retry-After instead of a bare 500.
  app.use(poolErrorHandler({ retryAfterSeconds: 1 }))
  app.use(errorHandler)
  return app
}

const errorHandler: ErrorRequestHandler = (error, req, res, _next) => {
  if (error instanceof InvalidOrderError) return void res.status(400).json({ error: 'invalid_order', message: error.message })
  const status = (error as { status?: unknown }).status
  if (typeof status === 'number' && status >= 400 && status < 500) return void res.status(status).json({ error: 'bad_request', message: (error as Error).message })
  log(`${req.method} ${req.originalUrl} failed (request ${req.lifeguard?.requestId ?? '-'}): ${error instanceof Error ? error.message : String(error)}`)
  res.status(500).json({ error: 'internal', message: 'Something went wrong; the log has the details.' })
}

runHttpService('express', (service) => createServer(createExpressApp(service)))
