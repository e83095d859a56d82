import { createServiceContainer, OperationContext } from '@lifeguard/core'
import express from 'express'
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

test.run()
