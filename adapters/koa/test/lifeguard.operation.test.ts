import Router from '@koa/router'
import { createServiceContainer, InvalidOptionError, OperationContext } from '@lifeguard/core'
import type Koa from 'koa'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { namingContainer, operationNames, waitFor } from '@lifeguard/http-conformance'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('the Koa operation is named METHOD route-pattern once @koa/router matched')



const answer = async (ctx: Koa.ParameterizedContext): Promise<void> => {
  ctx.state.lifeguard.get('marker')
  await delay(1)
  ctx.body = { operation: OperationContext.current().operation }
}

test('includes the prefix of nested routers', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const api = new Router({ prefix: '/api' })
  const orders = new Router()
  orders.get('/orders/:id', answer)
  api.use('/v1', orders.routes())
  app.use(lifeguard({ container }))
  app.use(api.routes())
  assert.equal(await operationNames(await listen(app), '/api/v1/orders/42?x=1', disposed), { inHandler: 'GET /api/v1/orders/:id', atDispose: 'GET /api/v1/orders/:id' })
})

test('is named by the time the scope is disposed when async middleware runs before the router', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(async (_ctx, next) => {
    await delay(2)
    await next()
  })
  app.use(router.routes())
  const { atDispose } = await operationNames(await listen(app), '/items/9', disposed)
  assert.is(atDispose, 'GET /items/:id')
})

test('a name read before an async middleware let the router match is not kept: the handler sees the route pattern', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  router.get('/items/:id', answer)
  const early: string[] = []
  app.use(lifeguard({ container }))
  app.use(async (ctx, next) => {
    // An auth lookup's query, labelled by route, reads the name here.
    early.push(ctx.state.lifeguard.operation)
    await delay(2)
    await next()
  })
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9?x=1', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
  assert.equal(early, ['GET /items/9'])
})

test('falls back to METHOD path when no route matched', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use((ctx) => {
    ctx.state.lifeguard.get('marker')
    ctx.status = 404
    ctx.body = { operation: ctx.state.lifeguard.operation }
  })
  assert.equal(await operationNames(await listen(app), '/nowhere/7?q=2', disposed), { inHandler: 'GET /nowhere/7', atDispose: 'GET /nowhere/7' })
})

test('operationName and handlerName replace the defaults; a second lifeguard() reuses the context', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  let outer: OperationContext | undefined
  router.use(lifeguard({ container }))
  router.get('/x/:id', async (ctx) => {
    ctx.state.lifeguard.get('marker')
    await delay(1)
    ctx.body = { operation: `${ctx.state.lifeguard.handler} ${ctx.state.lifeguard.operation} ${ctx.state.lifeguard === outer}` }
  })
  app.use(lifeguard({ container, handlerName: 'orders-api', operationName: (ctx) => (ctx.path.startsWith('/x/') ? 'x-lookup' : undefined) }))
  app.use(async (ctx, next) => {
    outer = ctx.state.lifeguard
    await next()
  })
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/x/1', disposed), { inHandler: 'orders-api x-lookup true', atDispose: 'x-lookup' })
  assert.is(container.openScopes, 0)
})

test('a custom operationName that names only routed requests applies while the handler runs, through an async middleware', async () => {
  const matched = (ctx: Koa.ParameterizedContext): string | undefined => (ctx as { _matchedRoute?: string })._matchedRoute
  for (const asyncMiddleware of [false, true]) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    const router = new Router()
    const early: string[] = []
    router.get('/items/:id', async (ctx) => {
      ctx.state.lifeguard.get('marker')
      const first = ctx.state.lifeguard.operation
      await delay(1)
      ctx.body = { operation: `${first} | ${ctx.state.lifeguard.operation}` }
    })
    app.use(lifeguard({ container, operationName: (ctx) => (matched(ctx) === undefined ? undefined : `custom ${matched(ctx)}`) }))
    app.use(async (ctx, next) => {
      // An auth lookup's query reads the name before the router matched: the path for now.
      early.push(ctx.state.lifeguard.operation)
      if (asyncMiddleware) await delay(2)
      await next()
    })
    app.use(router.routes())
    const names = await operationNames(await listen(app), '/items/9', disposed)
    assert.equal(names, { inHandler: 'custom /items/:id | custom /items/:id', atDispose: 'custom /items/:id' }, `async middleware: ${asyncMiddleware}`)
    assert.equal(early, ['GET /items/9'])
  }
})

test('an operationName that works only once routed is never reported', async () => {
  const reported: unknown[] = []
  const disposed: string[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('marker', (r) => r.resolve('operationContext') as OperationContext, {
    dispose: (context) => void disposed.push(context.operation),
  })
  const app = quietApp()
  const router = new Router()
  router.get('/items/:id', answer)
  app.use(lifeguard({ container, operationName: (ctx) => `route ${(ctx as { _matchedRoute?: string })._matchedRoute!.toString()}` }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    for (let i = 0; i < 3; i++) {
      const response = await fetch(`${running.url}/items/${i}`)
      assert.equal(await response.json(), { operation: 'route /items/:id' })
    }
    await waitFor('every scope disposed', () => disposed.length === 3)
    assert.equal(disposed, ['route /items/:id', 'route /items/:id', 'route /items/:id'])
    assert.equal(reported, [])
  } finally {
    await running.close()
  }
})

test('an operationName that fails once routed is reported to onError; the request is answered and its scope disposed', async () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('marker', () => ({}))
  const app = quietApp()
  const router = new Router()
  router.get('/orders/:id', answer)
  app.use(lifeguard({ container, operationName: (ctx) => ((ctx as { _matchedRoute?: unknown })._matchedRoute === undefined ? undefined : '') }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/orders/42`)
    assert.is(response.status, 200)
    assert.equal(await response.json(), { operation: 'GET /orders/:id' }, 'the default name stays')
    await waitFor('the scope disposed', () => container.openScopes === 0)
    assert.is(container.openScopes, 0)
    assert.is(reported.length, 1)
    assert.instance(reported[0], InvalidOptionError)
    assert.is((reported[0] as InvalidOptionError).option, 'operationName')
  } finally {
    await running.close()
  }
})

test.run()
