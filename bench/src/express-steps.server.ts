// Where the Express adapter's cost goes: one Express server that adds the adapter's pieces one at a time,
// for `bench/tools/instructions-per-request.sh` (`express-steps.server.ts STEP`, GET /orders/:id as in
// http-overhead). Each step is the one before it plus:
//   0  als.run(store, next): the floor
//   1  an HttpOperation (scope, context, request id) run instead; the handler resolves its two services
//      through OperationContext.current() (nothing disposes the scopes: a count of this step is no cost)
//   2  the 'close' listener that disposes the scope
//   3  the context attached to the request and read back in the handler: STORE=weakmap (default, as the
//      adapter does), symbol (a property on `req`) or locals (a key in `res.locals`)
//   4  the double-mount check (a read of that store before anything else)
//   5  the request id echoed with `res.setHeader`
//   6  reads of `req.method`, `req.route` and the rename after routing: the adapter as it is, by hand
//   adapter  the adapter itself
// EXTRA=module,module also loads other modules at start-up. Compare steps within one session only, and check the
// `adapter` step against http-overhead's count: this server's counts depend on V8's heap and compiler
// state more than http-overhead's do (see bench/README.md).
import { AsyncLocalStorage } from 'node:async_hooks'
import { EventEmitter } from 'node:events'
import { OperationContext } from '@lifeguard/core'
import { HttpOperation, httpMiddlewareSettings } from '@lifeguard/core/http'
import { lifeguard } from '@lifeguard/express'
import express, { type Request, type RequestHandler } from 'express'
import { announceListening } from './lib/listening.js'
import { bareOrder, lifeguardContainer, type OrdersRepo } from './lib/orders-service.js'

const container = lifeguardContainer()
const settings = httpMiddlewareSettings<Request>({ container })
const addListener = EventEmitter.prototype.on
const contexts = new WeakMap<object, OperationContext>()
const als = new AsyncLocalStorage<object>()
const store = process.env['STORE'] ?? 'weakmap'
const slot = Symbol('lifeguard')
const attach = (req: Request, context: OperationContext): void => {
  if (store === 'symbol') (req as unknown as Record<symbol, OperationContext>)[slot] = context
  else if (store === 'locals') (req.res!.locals as Record<symbol, OperationContext>)[slot] = context
  else contexts.set(req, context)
}
const attached = (req: Request): OperationContext | undefined =>
  store === 'symbol' ? (req as unknown as Record<symbol, OperationContext>)[slot] : store === 'locals' ? (req.res!.locals as Record<symbol, OperationContext>)[slot] : contexts.get(req)

for (const name of (process.env['EXTRA'] ?? '').split(',').filter(Boolean)) await import(name)
const step = process.argv[2] ?? ''
const level = step === 'adapter' ? Infinity : Number(step)
if (!Number.isInteger(level) && level !== Infinity) {
  console.error('Usage: express-steps.server.ts 0..6|adapter')
  process.exit(2)
}

function byHand(): RequestHandler {
  return function steps(req, res, next) {
    if (level === 0) return als.run({}, next)
    if (level >= 4 && attached(req) !== undefined) return next()
    const method = level >= 6 ? req.method : 'GET'
    const route = level >= 6 ? (req.route as { path?: unknown } | undefined) : undefined
    const operation = new HttpOperation(settings, 'GET /orders/:id', req.headers[settings.requestIdHeader])
    if (level >= 3) attach(req, operation.context)
    if (level >= 5) res.setHeader(settings.requestIdHeader, operation.requestId)
    if (level >= 2) addListener.call(res, 'close', () => operation.closed(res.writableFinished))
    operation.run(next)
    if (level >= 6 && route === undefined) {
      const routed = req.route as { path?: unknown } | undefined
      if (routed !== undefined) operation.rename(`${method} ${req.baseUrl}${String(routed.path)}`)
    }
  }
}

const app = express()
app.set('etag', false)
app.use(level === Infinity ? lifeguard({ container }) : byHand())
app.get('/orders/:id', (req, res) => {
  if (level === 0) return void res.json(bareOrder(req.params['id']!))
  const context = level >= 3 ? (level === Infinity ? req.lifeguard : attached(req)!) : OperationContext.current()!
  context.get('config')
  res.json(context.get<OrdersRepo>('orders').find(req.params['id']!))
})
const server = app.listen(0, '127.0.0.1')
server.once('listening', () => announceListening(server))
process.once('SIGTERM', () => server.close(() => process.exit(0)))
