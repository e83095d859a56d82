import { createServiceContainer, InvalidOptionError, OperationContext } from '@lifeguard/core'
import express from 'express'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { namingContainer, operationNames, waitFor } from '@lifeguard/http-conformance'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('the Express operation is named METHOD route-pattern once routed')



const answer = async (req: express.Request, res: express.Response): Promise<void> => {
  req.lifeguard.get('marker')
  await delay(1)
  res.json({ operation: OperationContext.current().operation })
}

test('includes the mount path of a router', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = express.Router()
  router.get('/orders/:id', answer)
  app.use(lifeguard({ container }))
  app.use('/api', router)
  assert.equal(await operationNames(await listen(app), '/api/orders/42?x=1', disposed), { inHandler: 'GET /api/orders/:id', atDispose: 'GET /api/orders/:id' })
})

test('mounted on a route under a parameterized mount path, the name is kept printable and bounded like every default name', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = express.Router()
  router.get('/orders/:id', lifeguard({ container }), answer)
  app.use('/t/:tenant', router)
  const tenant = 't'.repeat(1000) // what the client sent, in req.baseUrl
  const { inHandler, atDispose } = await operationNames(await listen(app), `/t/${tenant}/orders/1`, disposed)
  assert.is(inHandler.length, 256, 'cut at 256 characters')
  assert.ok(inHandler.startsWith(`GET /t/ttt`), inHandler)
  assert.is(atDispose, inHandler)
  assert.equal(await operationNames(await listen(app), '/t/acme/orders/1', disposed), { inHandler: 'GET /t/acme/orders/:id', atDispose: 'GET /t/acme/orders/:id' })
})

test('a response a middleware before lifeguard() sent, calling next() after, still ends its operation', async () => {
  let disposed = 0
  const container = createServiceContainer().scoped('marker', () => ({}), { dispose: () => void disposed++ })
  const app = quietApp()
  // A cache answering, then passing on (for a logger, say).
  app.use((_req, res, next) => {
    res.end('cached')
    next()
  })
  app.use(lifeguard({ container }))
  app.use((req) => void req.lifeguard.get('marker'))
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/orders/1`)
    assert.is(await response.text(), 'cached')
    await waitFor('the scope disposed', () => disposed === 1)
    assert.is(container.openScopes, 0)
  } finally {
    await running.close()
  }
})

test('is named before the handler awaits when async middleware runs before lifeguard()', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use((_req, _res, next) => void setTimeout(next, 2))
  app.use(lifeguard({ container }))
  app.get('/items/:id', answer)
  assert.equal(await operationNames(await listen(app), '/items/9', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
})

test('is named by the time the scope is disposed when async middleware runs after lifeguard()', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use((_req, _res, next) => void setTimeout(next, 2))
  app.get('/items/:id', answer)
  const { atDispose } = await operationNames(await listen(app), '/items/9', disposed)
  assert.is(atDispose, 'GET /items/:id')
})

test('after async middleware below lifeguard(), the handler already sees the route pattern, even when the name was read before routing', async () => {
  // A body parser or an auth lookup sits between lifeguard() and the router: Express routes later, with no
  // hook to tell. Route-labelled metrics read the name in the handler; a path there puts ids into labels.
  for (const readEarly of [false, true]) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    const early: string[] = []
    app.use(lifeguard({ container }))
    app.use((req, _res, next) => {
      if (readEarly) early.push(req.lifeguard.operation)
      setTimeout(next, 2)
    })
    app.get('/items/:id', answer)
    assert.equal(await operationNames(await listen(app), '/items/9?x=1', disposed), { inHandler: 'GET /items/:id', atDispose: 'GET /items/:id' })
    assert.equal(early, readEarly ? ['GET /items/9'] : [], 'before routing, the name is the path')
  }
})

test('a router mounted on a path keeps its mount in the name through an async middleware and an error handler, to disposal', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = express.Router()
  router.get('/orders/:id', async (req, _res, next) => {
    req.lifeguard.get('marker')
    await delay(1)
    next(new Error(req.lifeguard.operation))
  })
  app.use(lifeguard({ container }))
  app.use((_req, _res, next) => void setTimeout(next, 2))
  app.use('/api', router)
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ operation: error.message }))
  // By the time the response closes Express has reset the mount path: the name is not rebuilt there.
  assert.equal(await operationNames(await listen(app), '/api/orders/7', disposed), { inHandler: 'GET /api/orders/:id', atDispose: 'GET /api/orders/:id' })
})

test('falls back to METHOD path when no route matched', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use((req, res) => {
    req.lifeguard.get('marker')
    res.status(404).json({ operation: req.lifeguard.operation })
  })
  assert.equal(await operationNames(await listen(app), '/nowhere/7?q=2', disposed), { inHandler: 'GET /nowhere/7', atDispose: 'GET /nowhere/7' })
})

test('operationName and handlerName replace the defaults', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container, handlerName: 'orders-api', operationName: (req) => (req.route ? `route:${String(req.route.path)}` : undefined) }))
  app.get('/x/:id', async (req, res) => {
    req.lifeguard.get('marker')
    await delay(1)
    res.json({ operation: `${req.lifeguard.handler} ${req.lifeguard.operation}` })
  })
  assert.equal(await operationNames(await listen(app), '/x/1', disposed), { inHandler: 'orders-api route:/x/:id', atDispose: 'route:/x/:id' })
})

test('an operationName that fails once routed is reported to onError; the request is answered and its scope disposed', async () => {
  const reported: unknown[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('marker', () => ({}))
  const app = quietApp()
  app.use(lifeguard({ container, operationName: (req) => (req.route === undefined ? undefined : '') }))
  app.get('/orders/:id', answer)
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}/orders/42`)
    assert.is(response.status, 200)
    assert.equal(await response.json(), { operation: 'GET /orders/:id' }, "the route's pattern, not the path")
    await waitFor('the scope disposed', () => container.openScopes === 0)
    assert.is(container.openScopes, 0)
    assert.is(reported.length, 1)
    assert.instance(reported[0], InvalidOptionError)
    assert.is((reported[0] as InvalidOptionError).option, 'operationName')
    assert.match((reported[0] as Error).message, '`operationName` failed, and the operation gets its default name. It returned an empty string.')
  } finally {
    await running.close()
  }
})

test('a custom operationName that names only routed requests applies while the handler runs, through an async middleware', async () => {
  // The README's advice for a router mounted at '/t/:tenant' (one default name per tenant): name it yourself.
  for (const asyncMiddleware of [false, true]) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    const early: string[] = []
    app.use(lifeguard({ container, operationName: (req) => (req.route === undefined ? undefined : `${req.method} /t/:tenant${String(req.route.path)}`) }))
    app.use((req, _res, next) => {
      // An auth lookup's query reads the name before routing: the path for now.
      early.push(req.lifeguard.operation)
      if (asyncMiddleware) setTimeout(next, 2)
      else next()
    })
    const tenant = express.Router({ mergeParams: true })
    tenant.get('/orders/:id', async (req, res) => {
      req.lifeguard.get('marker')
      const first = req.lifeguard.operation
      await delay(1)
      res.json({ operation: `${first} | ${req.lifeguard.operation}` })
    })
    app.use('/t/:tenant', tenant)
    const names = await operationNames(await listen(app), '/t/acme/orders/1', disposed)
    assert.equal(names, { inHandler: 'GET /t/:tenant/orders/:id | GET /t/:tenant/orders/:id', atDispose: 'GET /t/:tenant/orders/:id' }, `async middleware: ${asyncMiddleware}`)
    assert.equal(early, ['GET /t/acme/orders/1'])
  }
})

test('an operationName that works only once routed is never reported', async () => {
  const reported: unknown[] = []
  const disposed: string[] = []
  const container = createServiceContainer({ onError: (error) => void reported.push(error) }).scoped('marker', (r) => r.resolve('operationContext') as OperationContext, {
    dispose: (context) => void disposed.push(context.operation),
  })
  const app = quietApp()
  app.use(lifeguard({ container, operationName: (req) => `route ${String(req.route.path)}` }))
  app.get('/items/:id', answer)
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

test('a router mounted on a path keeps its mount in the default name on error paths, read only at disposal', async () => {
  // Route-labelled metrics and pool release events read the name as the scope is disposed, after Express has
  // left the router (and put its mount path back) on the way to the error handler.
  const cases: [string, string][] = [
    ['/api/sync/1', 'GET /api/sync/:id'],
    ['/api/thrown/2', 'GET /api/thrown/:id'],
    ['/api/after-await/3', 'GET /api/after-await/:id'],
    ['/api/v1/things/4/', 'GET /api/v1/things/:id'],
    ['/t/acme/orders/5?x=1', 'GET /t/acme/orders/:id'],
    ['/api/ok/6', 'GET /api/ok/:id'],
  ]
  for (const asyncMiddleware of [false, true]) {
    const { container, disposed } = namingContainer()
    const app = quietApp()
    app.use(lifeguard({ container }))
    if (asyncMiddleware) app.use((_req, _res, next) => void setTimeout(next, 2))
    const api = express.Router()
    api.get('/sync/:id', (req, _res, next) => {
      req.lifeguard.get('marker')
      next(new Error('failed'))
    })
    api.get('/thrown/:id', (req) => {
      req.lifeguard.get('marker')
      throw new Error('failed')
    })
    api.get('/after-await/:id', async (req) => {
      req.lifeguard.get('marker')
      await delay(1)
      throw new Error('failed')
    })
    api.get('/ok/:id', (req, res) => {
      req.lifeguard.get('marker')
      res.json({ operation: 'ok' })
    })
    const v1 = express.Router()
    v1.get('/things/:id', (req, _res, next) => {
      req.lifeguard.get('marker')
      setTimeout(() => next(new Error('failed')), 1)
    })
    api.use('/v1', v1)
    const tenant = express.Router({ mergeParams: true })
    tenant.get('/orders/:id', (req, _res, next) => {
      req.lifeguard.get('marker')
      next(new Error('failed'))
    })
    app.use('/api', api)
    app.use('/t/:tenant', tenant)
    app.use((_error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => void res.status(500).json({ operation: 'error handler' }))
    const running = await listen(app)
    try {
      for (const [path, expected] of cases) {
        await (await fetch(`${running.url}${path}`)).arrayBuffer()
        await waitFor(`the scope of ${path} disposed`, () => disposed.length > 0)
        assert.is(disposed.pop(), expected, `${path}, async middleware: ${asyncMiddleware}`)
      }
    } finally {
      await running.close()
    }
  }
})

test('a second lifeguard() on the same request reuses the first context', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const router = express.Router()
  let outer: OperationContext | undefined
  app.use(lifeguard({ container }))
  app.use((req, _res, next) => {
    outer = req.lifeguard
    next()
  })
  router.use(lifeguard({ container }))
  router.get('/y', (req, res) => {
    req.lifeguard.get('marker')
    res.json({ operation: req.lifeguard === outer ? 'same' : 'different' })
  })
  app.use('/r', router)
  assert.equal(await operationNames(await listen(app), '/r/y', disposed), { inHandler: 'same', atDispose: 'GET /r/y' })
  assert.is(container.openScopes, 0)
})

test.run()
