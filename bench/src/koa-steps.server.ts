// Where the Koa adapter's cost goes: one Koa server that adds the adapter's pieces one at a time, for
// `bench/tools/instructions-per-request.sh` (`koa-steps.server.ts STEP`, GET /orders/:id through
// @koa/router as in http-overhead). Each step is the one before it plus:
//   0  als.run(store, next): the floor
//   1  an HttpOperation (scope, context, request id) run instead; the handler resolves its two services
//      through OperationContext.current() (nothing disposes the scopes: a count of this step is no cost)
//   2  the 'close' listener that disposes the scope
//   3  the context kept in `ctx.state.lifeguard` and read from there in the handler
//   4  the double-mount check (a read of `ctx.state.lifeguard` before anything else)
//   5  the request id echoed as the headers are written (`echoHeaderOnWrite`)
//   6  the name: the matched route read after the chain started and in the 'close' listener, and the
//      rename when it changed (the adapter as it is, by hand)
//   adapter  the adapter itself
// Compare steps within one session only, by the count without the compilers and the collector (the
// script prints both shares), and check the `adapter` step against http-overhead's count.
import { AsyncLocalStorage } from 'node:async_hooks'
import Router from '@koa/router'
import { OperationContext } from '@lifeguard/core'
import { echoHeaderOnWrite, HttpOperation, httpMiddlewareSettings, operationNameOf } from '@lifeguard/core/http'
import { lifeguard } from '@lifeguard/koa'
import Koa, { type Middleware, type ParameterizedContext } from 'koa'
import { announceListening } from './lib/listening.js'
import { bareOrder, lifeguardContainer, type OrdersRepo } from './lib/orders-service.js'

const container = lifeguardContainer()
const settings = httpMiddlewareSettings<ParameterizedContext>({ container })
const als = new AsyncLocalStorage<object>()

const step = process.argv[2] ?? ''
const level = step === 'adapter' ? Infinity : Number(step)
if (!Number.isInteger(level) && level !== Infinity) {
  console.error('Usage: koa-steps.server.ts 0..6|adapter')
  process.exit(2)
}

const matchedRoute = (ctx: ParameterizedContext): unknown => (ctx as { _matchedRoute?: unknown })._matchedRoute
// Made here, not bound to a name inside the middleware: tsx keeps function names, and a named closure made
// per request would cost an `Object.defineProperty` per request that no compiled adapter pays.
const defaultNameOf = (ctx: ParameterizedContext) => () => operationNameOf(ctx.method, matchedRoute(ctx), ctx.originalUrl)

function byHand(): Middleware {
  return function steps(ctx, next) {
    if (level === 0) return als.run({}, next)
    if (level >= 4 && ctx.state['lifeguard'] !== undefined) return next()
    const defaultName = defaultNameOf(ctx)
    const operation = new HttpOperation(settings, level >= 6 ? defaultName : 'GET /orders/:id', ctx.req.headers[settings.requestIdHeader])
    if (level >= 3) ctx.state['lifeguard'] = operation.context
    const res = ctx.res
    if (level >= 5) echoHeaderOnWrite(res, settings.requestIdHeader, operation.requestId)
    let namedFor: unknown
    if (level >= 2) {
      res.on('close', () => {
        if (level >= 6 && matchedRoute(ctx) !== namedFor) operation.rename(defaultName)
        operation.closed(res.writableFinished)
      })
    }
    const downstream = operation.run(next)
    if (level >= 6) {
      namedFor = matchedRoute(ctx)
      if (namedFor !== undefined) operation.rename(defaultName)
    }
    return downstream
  }
}

const app = new Koa()
const router = new Router()
app.use(level === Infinity ? lifeguard({ container }) : byHand())
router.get('/orders/:id', (ctx) => {
  if (level === 0) return void (ctx.body = bareOrder(ctx.params['id']!))
  const context = level >= 3 ? (ctx.state['lifeguard'] as OperationContext) : OperationContext.current()!
  context.get('config')
  ctx.body = context.get<OrdersRepo>('orders').find(ctx.params['id']!)
})
app.use(router.routes())
const server = app.listen(0, '127.0.0.1')
server.once('listening', () => announceListening(server))
process.once('SIGTERM', () => server.close(() => process.exit(0)))
