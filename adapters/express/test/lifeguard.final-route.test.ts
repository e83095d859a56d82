import { OperationContext } from '@lifeguard/core'
import express from 'express'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { Deferred, namingContainer, operationNames, waitFor } from '@lifeguard/http-conformance'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('the Express operation is named after the route that handles the request, not the first one matched')

const answer = async (req: express.Request, res: express.Response): Promise<void> => {
  req.lifeguard.get('marker')
  await delay(1)
  res.json({ operation: OperationContext.current().operation })
}

test('an async catch-all route that passes the request on leaves the name to the route after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.all('/{*splat}', async (_req, _res, next) => {
    await delay(1)
    next()
  })
  app.get('/orders/:id', answer)
  assert.equal(await operationNames(await listen(app), '/orders/42', disposed), { inHandler: 'GET /orders/:id', atDispose: 'GET /orders/:id' })
})

test('a catch-all route that read the name before passing the request on: the next route sees its own name', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const early: string[] = []
  app.use(lifeguard({ container }))
  app.all('/{*splat}', async (req, _res, next) => {
    // An auth lookup's query, labelled by route.
    early.push(req.lifeguard.operation)
    await delay(1)
    early.push(req.lifeguard.operation)
    next()
  })
  app.get('/orders/:id', answer)
  assert.equal(await operationNames(await listen(app), '/orders/42', disposed), { inHandler: 'GET /orders/:id', atDispose: 'GET /orders/:id' })
  assert.equal(early, ['GET /{*splat}', 'GET /{*splat}'], 'the catch-all sees its own name while it runs')
})

test("next('route') from an async handler hands the name to the next matching route", async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/:kind/:id', async (_req, _res, next) => {
    await delay(1)
    next('route')
  })
  app.get('/orders/:id', answer)
  assert.equal(await operationNames(await listen(app), '/orders/42', disposed), { inHandler: 'GET /orders/:id', atDispose: 'GET /orders/:id' })
})

test('the name at disposal is the last route that ran, when the handler of the first read it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/:kind/:id', (req, _res, next) => {
    req.lifeguard.get('marker')
    setTimeout(next, 1)
  })
  app.get('/orders/:id', (req, res) => void res.json({ operation: req.lifeguard.operation }))
  assert.equal(await operationNames(await listen(app), '/orders/42', disposed), { inHandler: 'GET /orders/:id', atDispose: 'GET /orders/:id' })
})

test('mounted on a route, lifeguard() names a later route that takes the request over after it', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  app.get('/:kind/:id', lifeguard({ container }), async (_req, _res, next) => {
    await delay(1)
    next('route')
  })
  app.get('/orders/:id', answer)
  assert.equal(await operationNames(await listen(app), '/orders/42', disposed), { inHandler: 'GET /orders/:id', atDispose: 'GET /orders/:id' })
})

test('once the response has finished, the name of the route that answered is kept', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  let seen: { req: express.Request; context: OperationContext } | undefined
  app.use(lifeguard({ container }))
  app.get('/orders/:id', (req, res) => {
    req.lifeguard.get('marker')
    seen = { req, context: req.lifeguard }
    res.json({ operation: 'sent' })
  })
  const running = await listen(app)
  try {
    await (await fetch(`${running.url}/orders/42`)).arrayBuffer()
    await waitFor('the scope disposed', () => disposed.length > 0)
    // A read long after (a timer created under the context) does not look at the request any more.
    seen!.req.route = { path: '/elsewhere' }
    assert.equal({ atDispose: disposed, later: seen!.context.operation }, { atDispose: ['GET /orders/:id'], later: 'GET /orders/:id' })
  } finally {
    await running.close()
  }
})

test("an async handler's error in a mounted router: the error handler and disposal see the mount path", async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const api = express.Router()
  // A pattern whose mount path cannot be told from `req.url` once the router has put back its `req.baseUrl`.
  api.get('/files/*path', async (req) => {
    req.lifeguard.get('marker')
    throw new Error('not found on disk')
  })
  app.use(lifeguard({ container }))
  app.use('/api', api)
  app.use((_error: unknown, req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ operation: req.lifeguard.operation })
  })
  assert.equal(await operationNames(await listen(app), '/api/files/a/b.txt', disposed), { inHandler: 'GET /api/files/*path', atDispose: 'GET /api/files/*path' })
})

// Ends the request from the client's side once the handler has entered, and waits for the scope's disposal.
async function abandon(app: express.Express, path: string, entered: Deferred, disposed: string[]): Promise<void> {
  const running = await listen(app)
  try {
    const controller = new AbortController()
    const request = fetch(`${running.url}${path}`, { signal: controller.signal }).catch((error: Error) => error.name)
    await entered.promise
    controller.abort()
    assert.is(await request, 'AbortError')
    await waitFor('the scope disposed', () => disposed.length > 0)
  } finally {
    await running.close()
  }
}

test('after a disconnect, the name of the route that ended the response is kept once the handler is done', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const entered = new Deferred()
  let seen: { req: express.Request; context: OperationContext } | undefined
  app.use(lifeguard({ container, abortGraceMillis: 600_000 }))
  app.get('/orders/:id', async (req, res) => {
    req.lifeguard.get('marker')
    seen = { req, context: req.lifeguard }
    entered.resolve()
    await new Promise((resolve) => req.lifeguard.signal.addEventListener('abort', resolve, { once: true }))
    res.json({ operation: 'too late' })
  })
  await abandon(app, '/orders/42', entered, disposed)
  // A read long after (a timer created under the context) does not look at the request any more.
  seen!.req.route = { path: '/elsewhere' }
  assert.equal({ atDispose: disposed, later: seen!.context.operation }, { atDispose: ['GET /orders/:id'], later: 'GET /orders/:id' })
})

test('after a disconnect, a route the request is passed on to still names the operation', async () => {
  const { container, disposed } = namingContainer()
  const app = quietApp()
  const entered = new Deferred()
  app.use(lifeguard({ container, abortGraceMillis: 600_000 }))
  app.all('/{*splat}', async (req, _res, next) => {
    req.lifeguard.get('marker')
    entered.resolve()
    await new Promise((resolve) => req.lifeguard.signal.addEventListener('abort', resolve, { once: true }))
    next()
  })
  app.get('/orders/:id', (_req, res) => void res.json({ operation: 'too late' }))
  await abandon(app, '/orders/42', entered, disposed)
  assert.equal(disposed, ['GET /orders/:id'])
})

test.run()
