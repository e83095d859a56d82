import Router from '@koa/router'
import { createServiceContainer, PoolTimeoutError, type OperationContext } from '@lifeguard/core'
import { Deferred, waitFor } from '@lifeguard/http-conformance'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

// A handler that sets `ctx.respond = false` answers by itself, on `ctx.res`, and may go on working after.
const test = suite('Koa: a handler that answers by itself (ctx.respond = false)')

test('keeps its scope until it returns, not only until its response has finished', async () => {
  const disposed = new Deferred()
  const container = createServiceContainer().scoped('audit', () => ({ lines: [] as string[] }), { dispose: () => disposed.resolve() })
  const goOn = new Deferred()
  const handlerDone = new Deferred<string>()
  const responseClosed = new Deferred()
  const app = quietApp()
  const router = new Router()
  router.post('/exports', async (ctx) => {
    const context = ctx.state.lifeguard as OperationContext
    const audit = context.get<{ lines: string[] }>('audit')
    ctx.respond = false
    ctx.res.once('close', () => responseClosed.resolve())
    ctx.res.writeHead(202, { 'content-type': 'text/plain' })
    ctx.res.end('accepted')
    // Work after the answer: its services are still there.
    await goOn.promise
    audit.lines.push('exported')
    handlerDone.resolve(`${context.disposed} ${context.get<{ lines: string[] }>('audit').lines.join()}`)
  })
  app.use(lifeguard({ container }))
  app.use(router.routes())
  const server = await listen(app)
  try {
    const response = await fetch(`${server.url}/exports`, { method: 'POST' })
    assert.is(response.status, 202)
    assert.is(await response.text(), 'accepted')
    let disposedEarly = false
    void disposed.promise.then(() => (disposedEarly = true))
    // Before the fix the scope was disposed when the response closed, under the running handler.
    await responseClosed.within('the response to close')
    await new Promise((resolve) => setImmediate(resolve))
    assert.not.ok(disposedEarly, 'not disposed while the handler still runs')
    goOn.resolve()
    assert.is(await handlerDone.within('the handler to finish'), 'false exported')
    await disposed.within('the scope to be disposed once the handler returned')
  } finally {
    await server.close()
    await container.dispose()
  }
})

test('a middleware above that answered already: the chain below keeps its scope until it returns', async () => {
  const disposed = new Deferred()
  const container = createServiceContainer().scoped('audit', () => ({ lines: [] as string[] }), { dispose: () => disposed.resolve() })
  const goOn = new Deferred()
  const handlerDone = new Deferred<string>()
  const app = quietApp()
  // Answers at once (a webhook acknowledged before its work), then lets the rest of the chain do the work.
  app.use(async (ctx, next) => {
    ctx.res.writeHead(202, { 'content-type': 'text/plain' })
    ctx.res.end('accepted')
    await next()
  })
  app.use(lifeguard({ container }))
  app.use(async (ctx) => {
    const context = ctx.state.lifeguard as OperationContext
    await goOn.promise
    context.get<{ lines: string[] }>('audit').lines.push('done')
    handlerDone.resolve(`${context.disposed} ${context.get<{ lines: string[] }>('audit').lines.join()}`)
  })
  const server = await listen(app)
  try {
    const response = await fetch(`${server.url}/hooks`, { method: 'POST' })
    assert.is(response.status, 202)
    assert.is(await response.text(), 'accepted')
    let disposedEarly = false
    void disposed.promise.then(() => (disposedEarly = true))
    for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve))
    // Before, the scope was disposed as soon as the middleware ran (the response had closed already).
    assert.not.ok(disposedEarly, 'not disposed while the chain below still runs')
    goOn.resolve()
    assert.is(await handlerDone.within('the handler to finish'), 'false done')
    await disposed.within('the scope to be disposed once the chain settled')
  } finally {
    await server.close()
    await container.dispose()
  }
})

test('a pool error before it answered is answered 503 under mapErrors, not left hanging', async () => {
  const container = createServiceContainer()
  const app = quietApp()
  const router = new Router()
  router.get('/report.csv', async (ctx) => {
    ctx.respond = false
    throw new PoolTimeoutError('reports', 1000, { waiting: 3 })
  })
  app.use(lifeguard({ container, mapErrors: { retryAfterSeconds: 2 } }))
  app.use(router.routes())
  const server = await listen(app)
  try {
    // Before the fix: no answer at all (Koa answers nothing when `respond` is false).
    const response = await fetch(`${server.url}/report.csv`, { signal: AbortSignal.timeout(5000) })
    assert.is(response.status, 503)
    assert.is(response.headers.get('retry-after'), '2')
    await response.arrayBuffer()
    await waitFor('the scope to be disposed', () => container.openScopes === 0)
  } finally {
    await server.close()
    await container.dispose()
  }
})

test.run()
