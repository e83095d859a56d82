import Router from '@koa/router'
import { createServiceContainer, OperationContext, type ServiceContainer } from '@lifeguard/core'
import type Koa from 'koa'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { Deferred, namingContainer, operationNames, waitFor } from '@lifeguard/http-conformance'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite("the Koa operation is named after the route that handles the request, not a router's middleware")

const answer = async (ctx: Koa.ParameterizedContext): Promise<void> => {
  ctx.state.lifeguard.get('marker')
  await delay(1)
  ctx.body = { operation: OperationContext.current().operation }
}

test('a name read in router.use() middleware before it awaits is not kept for the route after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  router.use(async (ctx, next) => {
    void ctx.state.lifeguard.operation
    await delay(1)
    await next()
  })
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
})

test('a name read in router.use() middleware after it awaited is not kept for the route after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  const early: string[] = []
  router.use(async (ctx, next) => {
    await delay(1)
    early.push(ctx.state.lifeguard.operation)
    await next()
  })
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
  assert.equal(early, ['GET /items/:id'], "router middleware sees the route's name")
})

test('a name read in path-scoped router.use() middleware is not kept for the route after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  router.use('/items', async (ctx, next) => {
    await delay(1)
    void ctx.state.lifeguard.operation
    await next()
  })
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
})

test('a route that read the name and passes the request on hands the name to the route after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  const early: string[] = []
  router.get('/:kind/:id', async (ctx, next) => {
    await delay(1)
    early.push(ctx.state.lifeguard.operation)
    await next()
  })
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
  assert.equal(early, ['GET /:kind/:id'], 'the first route sees its own name while it runs')
})

test('router.use() middleware that runs after the route does not rename it at disposal', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  router.get('/items/:id', async (ctx, next) => {
    await answer(ctx)
    await next()
  })
  router.use(async (_ctx, next) => {
    await delay(1)
    await next()
  })
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
})

test('a HEAD request in router.use() middleware reads the GET route it goes to', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  const early: string[] = []
  router.use(async (ctx, next) => {
    await delay(1)
    early.push(ctx.state.lifeguard.operation)
    await next()
  })
  router.post('/items/:id', (ctx) => void (ctx.body = 'posted'))
  router.get('/items/:id', (ctx) => {
    ctx.state.lifeguard.get('marker')
    ctx.body = 'got'
  })
  app.use(lifeguard({ container }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/items/9`, { method: 'HEAD' })
    assert.is(response.status, 200)
    await waitFor('the scope disposed', () => disposed.length > 0)
    assert.equal({ early, atDispose: disposed }, { early: ['HEAD /items/:id'], atDispose: ['HEAD /items/:id'] })
  } finally {
    await running.close()
  }
})

test('router.use() middleware reads the first route the request goes to, not the last one that matches', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  const early: string[] = []
  router.use(async (ctx, next) => {
    await delay(1)
    early.push(ctx.state.lifeguard.operation)
    await next()
  })
  router.get('/users/me', answer)
  router.get('/users/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/users/me', disposed), { inHandler: 'GET /users/me', atDispose: 'GET /users/me' })
  assert.equal(early, ['GET /users/me'], 'the middleware sees the route that answers')
})

test('router.use() middleware between two routes reads the route it passes the request on to', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = new Router()
  const early: string[] = []
  router.get('/:kind/:id', async (_ctx, next) => {
    await delay(1)
    await next()
  })
  router.use(async (ctx, next) => {
    await delay(1)
    early.push(ctx.state.lifeguard.operation)
    await next()
  })
  router.get('/items/:id', answer)
  app.use(lifeguard({ container }))
  app.use(router.routes())
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
  assert.equal(early, ['GET /items/:id'])
})

// A container whose disposal reads nothing of the context: whatever the context holds after it, it holds.
function countingContainer(): { container: ServiceContainer<any>; disposed: number[] } {
  const disposed: number[] = []
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed.push(1) })
  return { container, disposed }
}

test('once the response has finished, the name read while routed is kept without the context', async () => {
  const { container, disposed } = countingContainer()
  const app = quietApp()
  const router = new Router()
  let seen: { ctx: Koa.ParameterizedContext; context: OperationContext } | undefined
  router.get('/items/:id', (ctx) => {
    ctx.state.lifeguard.get('marker')
    seen = { ctx, context: ctx.state.lifeguard }
    ctx.body = { operation: ctx.state.lifeguard.operation }
  })
  app.use(lifeguard({ container }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    assert.equal(await (await fetch(`${running.url}/items/9`)).json(), { operation: 'GET /items/:id' })
    await waitFor('the scope disposed', () => disposed.length > 0)
    // A read long after (a timer created under the context) does not look at the request's context any more.
    ;(seen!.ctx as { _matchedRoute?: unknown })._matchedRoute = undefined
    assert.is(seen!.context.operation, 'GET /items/:id')
  } finally {
    await running.close()
  }
})

test('after a disconnect, the name of the route that ran last is kept once the chain has settled', async () => {
  const { container, disposed } = countingContainer()
  const app = quietApp()
  const router = new Router()
  const entered = new Deferred()
  let seen: { ctx: Koa.ParameterizedContext; context: OperationContext } | undefined
  router.get('/:kind/:id', async (ctx, next) => {
    ctx.state.lifeguard.get('marker')
    void ctx.state.lifeguard.operation
    seen = { ctx, context: ctx.state.lifeguard }
    entered.resolve()
    await new Promise((resolve) => ctx.state.lifeguard.signal.addEventListener('abort', resolve, { once: true }))
    await next()
  })
  router.get('/items/:id', (ctx) => void (ctx.body = { operation: ctx.state.lifeguard.operation }))
  app.use(lifeguard({ container }))
  app.use(router.routes())
  const running = await listen(app)
  try {
    const controller = new AbortController()
    const request = fetch(`${running.url}/items/9`, { signal: controller.signal }).catch((error: Error) => error.name)
    await entered.promise
    controller.abort()
    assert.is(await request, 'AbortError')
    await waitFor('the scope disposed', () => disposed.length > 0)
    ;(seen!.ctx as { _matchedRoute?: unknown })._matchedRoute = undefined
    assert.is(seen!.context.operation, 'GET /items/:id')
  } finally {
    await running.close()
  }
})

test.run()
