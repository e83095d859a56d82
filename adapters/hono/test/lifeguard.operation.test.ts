import { OperationContext } from '@lifeguard/core'
import { Hono, type Context } from 'hono'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { namingContainer, operationNames, waitFor } from '@lifeguard/http-conformance'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('the Hono operation is named METHOD route-pattern from the start')



const answer = (c: Context): Response => {
  c.var.lifeguard.get('marker')
  return c.json({ operation: OperationContext.current().operation })
}

test('includes the base path of a mounted sub-app, and is right before any await', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const orders = new Hono()
  orders.get('/orders/:id', answer)
  app.use(lifeguard({ container }))
  app.use('/api/*', async (_c, next) => next())
  app.route('/api', orders)
  assert.equal(await operationNames(await listen(app), '/api/orders/42?x=1', disposed), { inHandler: 'GET /api/orders/:id', atDispose: 'GET /api/orders/:id' })
})

// A route, and a fallback for its prefix registered after it, with or without a middleware that reads the
// name before either ran.
function withFallback(container: ReturnType<typeof namingContainer>['container'], readEarly: boolean): ReturnType<typeof quietApp> {
  const app = quietApp()
  app.use(lifeguard({ container }))
  if (readEarly) {
    app.use('/api/*', async (c, next) => {
      c.header('x-early', c.var.lifeguard.operation)
      await next()
    })
  }
  app.get('/api/orders/:id', answer)
  app.all('/api/*', (c) => {
    c.var.lifeguard.get('marker')
    return c.json({ operation: c.var.lifeguard.operation }, 404)
  })
  return app
}

test('names the route that answers, not a fallback matched after it', async () => {
  for (const readEarly of [false, true]) {
    const { container, disposed } = namingContainer()
    assert.equal(await operationNames(await listen(withFallback(container, readEarly)), '/api/orders/42', disposed), { inHandler: 'GET /api/orders/:id', atDispose: 'GET /api/orders/:id' }, `read early: ${readEarly}`)
  }
})

test('names the fallback when it is the route that answers', async () => {
  const { container, disposed } = namingContainer()
  assert.equal(await operationNames(await listen(withFallback(container, false)), '/api/unknown', disposed), { inHandler: 'GET /api/*', atDispose: 'GET /api/*' })
})

test('names a route for every method (app.all) that answers, not the fallback after it, read early or late', async () => {
  for (const readEarly of [false, true]) {
    for (const method of ['GET', 'POST']) {
      const { container, disposed } = namingContainer()
      const app = quietApp()
      app.use(lifeguard({ container }))
      app.use('/api/*', async (c, next) => {
        if (readEarly) c.header('x-early', c.var.lifeguard.operation)
        await next()
      })
      app.all('/api/webhooks/:id', answer)
      app.get('/api/orders/:id', answer)
      app.all('/api/*', (c) => c.json({ operation: c.var.lifeguard.operation }, 404))
      const running = await listen(app)
      try {
        const response = await fetch(`${running.url}/api/webhooks/1`, { method })
        assert.equal(await response.json(), { operation: `${method} /api/webhooks/:id` }, `${method}, read early: ${readEarly}`)
        if (readEarly) assert.is(response.headers.get('x-early'), `${method} /api/webhooks/:id`)
        await waitFor('the scope disposed', () => disposed.length > 0)
        assert.equal(disposed, [`${method} /api/webhooks/:id`])
      } finally {
        await running.close()
      }
    }
  }
})

test("names the route that answers past a middleware for one method on a wider pattern (app.get('*', cache())), read early or late", async () => {
  for (const pattern of ['*', '/orders/*']) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    app.use(lifeguard({ container }))
    app.use(async (c, next) => {
      c.header('x-early', c.var.lifeguard.operation) // a session lookup's query, say
      await next()
    })
    app.get(pattern, async (_c, next) => next())
    app.get('/orders/:id', answer)
    const running = await listen(app)
    try {
      const response = await fetch(`${running.url}/orders/42`)
      assert.equal(await response.json(), { operation: 'GET /orders/:id' }, pattern)
      assert.is(response.headers.get('x-early'), 'GET /orders/:id')
      await waitFor('the scope disposed', () => disposed.length > 0)
      assert.equal(disposed, ['GET /orders/:id'])
    } finally {
      await running.close()
    }
  }
})

test('a middleware for one method on a pattern with a parameter does not name the operation; a handler that declares next is named once it has answered', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use(async (c, next) => {
    c.header('x-early', c.var.lifeguard.operation)
    await next()
  })
  app.get('/admin/:section', async (_c, next) => next()) // requireAdmin
  app.get('/admin/users', answer)
  app.get('/api/orders/:id', async (c, _next) => answer(c))
  app.get('/api/*', (c) => c.json({ operation: c.var.lifeguard.operation }, 404))
  assert.equal(await operationNames(await listen(app), '/admin/users', disposed), { inHandler: 'GET /admin/users', atDispose: 'GET /admin/users' })
  disposed.length = 0
  // Read in its own handler it is taken for middleware, but the name kept is the route that answered.
  assert.is((await operationNames(await listen(app), '/api/orders/7', disposed)).atDispose, 'GET /api/orders/:id')
})

test('falls back to METHOD path when only middleware matched', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use(async (c, next) => {
    await next()
    c.var.lifeguard.get('marker')
    c.res = c.json({ operation: c.var.lifeguard.operation }, 404)
  })
  assert.equal(await operationNames(await listen(app), '/nowhere/7?q=2', disposed), { inHandler: 'GET /nowhere/7', atDispose: 'GET /nowhere/7' })
  // The path as the client sent it: decoded, `%0d%0a` would be a line break in every log line and event naming it.
  const forged = '/a%0d%0a2026-12-06T00:00:00Z%20INFO%20admin%20logged%20in'
  assert.equal(await operationNames(await listen(app), forged, disposed), { inHandler: `GET ${forged}`, atDispose: `GET ${forged}` })
})

test('operationName and handlerName replace the defaults; a second lifeguard() reuses the context', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  let outer: OperationContext | undefined
  app.use(lifeguard({ container, handlerName: 'orders-api', operationName: (c) => (c.req.path.startsWith('/x/') ? 'x-lookup' : undefined) }))
  app.use(async (c, next) => {
    outer = c.var.lifeguard
    await next()
  })
  app.get('/x/:id', lifeguard({ container }), (c) => {
    c.var.lifeguard.get('marker')
    return c.json({ operation: `${c.var.lifeguard.handler} ${c.var.lifeguard.operation} ${c.var.lifeguard === outer}` })
  })
  assert.equal(await operationNames(await listen(app), '/x/1', disposed), { inHandler: 'orders-api x-lookup true', atDispose: 'x-lookup' })
  assert.is(container.openScopes, 0)
})

test("operationName is asked once the route's handler runs, as on Express and Koa: c.req.routePath and param() are the route's", async () => {
  for (const [readEarly, portable] of [[false, false], [true, false], [true, true]] as const) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    app.use(lifeguard({ container, operationName: (c) => `${c.req.method} ${c.req.routePath} id=${c.req.param('id') ?? '-'}` }))
    // A middleware that reads the name before the route's handler runs gets a name for now, asked again later.
    if (readEarly) {
      app.use('/orders/*', async (c, next) => {
        c.header('x-early', c.var.lifeguard.operation)
        await next()
      })
    }
    app.get('/orders/:id', answer)
    assert.equal(await operationNames(await listen(app, portable), '/orders/7', disposed), { inHandler: 'GET /orders/:id id=7', atDispose: 'GET /orders/:id id=7' }, `read early: ${readEarly}, portable: ${portable}`)
  }
})

test.run()
