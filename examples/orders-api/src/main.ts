// The orders service on Express 5. Run it from the repository root with `npm start`.
import { createServer } from 'node:http'
import { lifeguard } from '@lifeguard/express'
import express, { type ErrorRequestHandler } from 'express'
import { parseLimit, parseNewOrder, parseOrderId } from './orders.js'
import type { OrdersRepository } from './orders-repository.js'
import { PROBLEM_CONTENT_TYPE, RequestError, problemFrom, routeNotFound } from './problems.js'
import { parseJson, readBody, requireJson } from './request-body.js'
import { runHttpService } from './run-http-service.js'
import { log, type OrdersService } from './service.js'

/** The Express app: operational endpoints, then the order routes, each request in its own operation. */
function createExpressApp(service: OrdersService): express.Express {
  const app = express()
  app.disable('x-powered-by')
  // First, so every response carries `x-request-id`: health checks, unknown routes and body-parser errors too.
  // Every request has `req.lifeguard`: its own scope (created lazily), disposed when the response ends.
  app.use(lifeguard({ container: service.container, handlerName: 'orders-api' }))

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

  app.post('/orders', async (req, res) => {
    // The body rules of src/request-body.ts, the same code as on Koa and Hono.
    requireJson(req.headers['content-type'], req.headers['content-encoding'])
    const order = parseNewOrder(parseJson(await readBody(req)))
    const created = await req.lifeguard.get<OrdersRepository>('orders').create(order)
    res.status(201).location(`/orders/${created.id}`).json(created)
  })
  app.get('/orders/:id', async (req, res) => {
    const id = parseOrderId(req.params.id)
    const order = await req.lifeguard.get<OrdersRepository>('orders').find(id)
    if (order === undefined) throw new RequestError(404, 'not_found', `No order ${id}.`)
    res.json(order)
  })
  app.get('/orders', async (req, res) => {
    res.json(await req.lifeguard.get<OrdersRepository>('orders').list(parseLimit(req.query.limit as string | string[] | undefined)))
  })

  app.use((req, _res, next) => next(routeNotFound(req.method, req.path)))
  // Every error, a full pool's 503 included, is one problem+json shape (src/problems.ts).
  app.use(errorHandler)
  return app
}

const errorHandler: ErrorRequestHandler = (caught, req, res, next) => {
  if (res.headersSent) return next(caught)
  // Express decodes `:id` before the route runs: a bad `%` escape is an id it cannot read, as on Koa and Hono.
  const error = caught instanceof URIError && /^\/orders\/[^/]+\/?$/.test(req.path) ? idError(req.path.split('/')[2] as string) : caught
  const { problem, headers, unexpected } = problemFrom(error, req.lifeguard?.requestId)
  if (unexpected) log(`${req.method} ${req.originalUrl} failed (request ${req.lifeguard?.requestId ?? '-'}): ${error instanceof Error ? error.message : String(error)}`)
  res.status(problem.status).set(headers).type(PROBLEM_CONTENT_TYPE).send(JSON.stringify(problem))
}

function idError(raw: string): unknown {
  try {
    parseOrderId(raw)
  } catch (error) {
    return error
  }
  return new RequestError(400, 'invalid_id', `Could not read the order id ${JSON.stringify(raw)}.`)
}

runHttpService('express', (service) => createServer(createExpressApp(service)))
