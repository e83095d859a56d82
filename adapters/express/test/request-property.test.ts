import { createServiceContainer, OperationContext, RegistrationError } from '@lifeguard/core'
import express from 'express'
import { IncomingMessage } from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

const test = suite('req.lifeguard is the request context in every app, sub-app and router')

test('a sub-app and a router below lifeguard() see the same context as OperationContext.current()', async () => {
  const container = createServiceContainer()
  const app = quietApp()
  const admin = express()
  const router = express.Router()
  const seen: boolean[] = []
  const check = (req: express.Request, res: express.Response): void => {
    seen.push(req.lifeguard === OperationContext.current() && req.lifeguard !== undefined)
    res.json({ requestId: req.lifeguard.requestId })
  }
  admin.get('/stats', check)
  router.get('/items', check)
  app.use(lifeguard({ container }))
  app.use('/admin', admin)
  app.use('/api', router)
  app.get('/plain', check)
  const running = await listen(app)
  try {
    for (const path of ['/admin/stats', '/api/items', '/plain']) {
      const response = await fetch(`${running.url}${path}`, { headers: { 'x-request-id': `prop-${path.length}` } })
      assert.equal(await response.json(), { requestId: `prop-${path.length}` })
    }
    assert.equal(seen, [true, true, true])
  } finally {
    await running.close()
  }
})

test('mounted again in a sub-app of another copy of Express, it still gives that app`s requests req.lifeguard', async () => {
  const container = createServiceContainer()
  const app = quietApp()
  // What a second installed copy of Express does to a request entering its sub-app: a prototype chain that
  // reaches IncomingMessage through that copy's own base request, where no accessor was installed yet.
  const otherCopysRequest = Object.create(IncomingMessage.prototype) as object
  let seen: unknown = 'unset'
  app.use(lifeguard({ container }))
  app.use((req, _res, next) => {
    Object.setPrototypeOf(req, Object.create(otherCopysRequest))
    next()
  })
  app.use(lifeguard({ container }))
  app.use((req, res) => {
    seen = req.lifeguard === OperationContext.current() && req.lifeguard !== undefined
    res.end()
  })
  const running = await listen(app)
  try {
    await (await fetch(`${running.url}/other`)).arrayBuffer()
    // Before, the second mount returned at once (one request, one operation), and the accessor was never installed.
    assert.is(seen, true)
  } finally {
    await running.close()
  }
})

test('a request that did not pass through lifeguard() has no context, and the property can be set', async () => {
  const app = quietApp()
  let before: unknown = 'unset'
  app.get('/bare', (req, res) => {
    before = req.lifeguard
    const context = OperationContext.create('test', 'bare', { container: createServiceContainer() })
    req.lifeguard = context
    res.json({ same: req.lifeguard === context })
    void context.dispose()
  })
  const running = await listen(app)
  try {
    // Another app installed the accessor already (the first test), so this request reads it too.
    const response = await fetch(`${running.url}/bare`)
    assert.equal(await response.json(), { same: true })
    assert.is(before, undefined)
  } finally {
    await running.close()
  }
})

test('a request prototype with a lifeguard value of its own fails every request with a RegistrationError, before any scope is created', async () => {
  for (const owner of ['express.request', 'app.request'] as const) {
    const container = createServiceContainer()
    const app = quietApp()
    const proto = (owner === 'express.request' ? express.request : app.request) as object
    const installed = Object.getOwnPropertyDescriptor(proto, 'lifeguard')
    const failures: unknown[] = []
    let reached = 0
    app.use(lifeguard({ container }))
    app.get('/x', (req, res) => void res.json({ reached: ++reached, same: req.lifeguard === OperationContext.current() }))
    app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      failures.push(error)
      res.status(500).end()
    })
    const running = await listen(app)
    try {
      Object.defineProperty(proto, 'lifeguard', { value: 'taken', configurable: true, writable: true })
      for (let i = 0; i < 2; i++) {
        const response = await fetch(`${running.url}/x`)
        assert.is(response.status, 500, `${owner}, request ${i + 1}`)
        assert.is(container.openScopes, 0, 'no scope created')
      }
      assert.is(reached, 0)
      assert.is(failures.length, 2, 'the second request fails as the first, never reads the value')
      for (const failure of failures) {
        assert.instance(failure, RegistrationError)
        assert.is((failure as RegistrationError).code, 'ERR_REGISTRATION')
        assert.match((failure as Error).message, "Could not install 'req.lifeguard'. A request prototype of this app already has a `lifeguard` value")
      }
      // Once the value is gone, the same app installs the accessor and serves requests.
      if (installed === undefined) delete (proto as { lifeguard?: unknown }).lifeguard
      else Object.defineProperty(proto, 'lifeguard', installed)
      const response = await fetch(`${running.url}/x`)
      assert.equal(await response.json(), { reached: 1, same: true })
    } finally {
      if (installed === undefined) delete (proto as { lifeguard?: unknown }).lifeguard
      else Object.defineProperty(proto, 'lifeguard', installed)
      await running.close()
    }
  }
})

test.run()
