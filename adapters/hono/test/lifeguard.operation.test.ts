import { createServiceContainer, OperationContext } from '@lifeguard/core'
import { Hono, type Context } from 'hono'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { setTimeout as delay } from 'node:timers/promises'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('the Hono operation is named METHOD route-pattern from the start')

function setup(): { container: ReturnType<typeof createServiceContainer>; disposed: string[] } {
  const disposed: string[] = []
  const container = createServiceContainer().scoped('marker', (r) => r.resolve('operationContext') as OperationContext, {
    dispose: (context) => void disposed.push(context.operation),
  })
  return { container, disposed }
}

async function operations(app: Hono, path: string, disposed: string[]): Promise<{ inHandler: string; atDispose: string | undefined }> {
  const running = await listen(app)
  try {
    const response = await fetch(`${running.url}${path}`)
    const inHandler = ((await response.json()) as { operation: string }).operation
    for (let i = 0; i < 200 && disposed.length === 0; i++) await delay(5)
    return { inHandler, atDispose: disposed.pop() }
  } finally {
    await running.close()
  }
}

const answer = (c: Context): Response => {
  c.var.lifeguard.get('marker')
  return c.json({ operation: OperationContext.current().operation })
}

test('includes the base path of a mounted sub-app, and is right before any await', async () => {
  const { container, disposed } = setup()
  const app = quietApp()
  const orders = new Hono()
  orders.get('/orders/:id', answer)
  app.use(lifeguard({ container }))
  app.use('/api/*', async (_c, next) => next())
  app.route('/api', orders)
  assert.equal(await operations(app, '/api/orders/42?x=1', disposed), { inHandler: 'GET /api/orders/:id', atDispose: 'GET /api/orders/:id' })
})

test('falls back to METHOD path when only middleware matched', async () => {
  const { container, disposed } = setup()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.use(async (c, next) => {
    await next()
    c.var.lifeguard.get('marker')
    c.res = c.json({ operation: c.var.lifeguard.operation }, 404)
  })
  assert.equal(await operations(app, '/nowhere/7?q=2', disposed), { inHandler: 'GET /nowhere/7', atDispose: 'GET /nowhere/7' })
})

test('operationName and handlerName replace the defaults; a second lifeguard() reuses the context', async () => {
  const { container, disposed } = setup()
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
  assert.equal(await operations(app, '/x/1', disposed), { inHandler: 'orders-api x-lookup true', atDispose: 'x-lookup' })
  assert.is(container.openScopes, 0)
})

test.run()
