import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ServerResponse } from 'node:http'
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response'
import { createServiceContainer } from '@lifeguard/core'
import { Deferred, delay } from '@lifeguard/http-conformance'
import type { Hono } from 'hono'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

// A handler may write the Node response itself (`c.env.outgoing`) and return `RESPONSE_ALREADY_SENT`: the
// response is sent in full while the handler still runs.
const test = suite('Hono on @hono/node-server: a handler that sends the response itself')

// A container whose scoped 'audit' service counts its disposals.
function auditContainer(): { container: ReturnType<typeof createServiceContainer>; disposed: Deferred; disposeCount: () => number } {
  let count = 0
  const disposed = new Deferred()
  const container = createServiceContainer().scoped('audit', () => ({ lines: [] as string[] }), {
    dispose: () => {
      count++
      disposed.resolve()
    },
  })
  return { container, disposed, disposeCount: () => count }
}

/**
 * Serves `app` and checks that the scope outlives the response sent: kept while the work below still runs (until
 * `goOn`), disposed once when it ends. `workDone` says what that work found.
 */
async function scopeOutlivesResponse(
  app: Hono,
  audit: ReturnType<typeof auditContainer>,
  run: { path: string; body: string; responseClosed: Deferred; goOn: Deferred; workDone: Deferred<string>; found: string },
): Promise<void> {
  const server = await listen(app)
  try {
    const response = await fetch(`${server.url}${run.path}`)
    assert.is(await response.text(), run.body)
    await run.responseClosed.within('the response to close')
    await new Promise((resolve) => setImmediate(resolve))
    assert.is(audit.disposeCount(), 0, 'not disposed while the work below still runs')
    run.goOn.resolve()
    assert.is(await run.workDone.within('the work below to finish'), run.found)
    await audit.disposed.within('the scope to be disposed once the chain settled')
    assert.is(audit.disposeCount(), 1)
    assert.is(audit.container.openScopes, 0)
  } finally {
    await server.close()
    await audit.container.dispose()
  }
}

test('keeps its scope until it returns, not only until its response has finished', async () => {
  const { container, disposed, disposeCount } = auditContainer()
  let disposeCalls = 0
  const responseClosed = new Deferred()
  const goOn = new Deferred()
  const handlerDone = new Deferred<string>()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/export', async (c) => {
    const context = c.var.lifeguard
    const audit = context.get<{ lines: string[] }>('audit')
    // Counts the adapter's calls: core's dispose() is idempotent, so the disposer alone could hide a second one.
    const dispose = context.dispose.bind(context)
    context.dispose = () => {
      disposeCalls++
      return dispose()
    }
    const outgoing = (c.env as { outgoing: ServerResponse }).outgoing
    outgoing.once('close', () => responseClosed.resolve())
    outgoing.writeHead(200, { 'content-type': 'text/csv' })
    await pipeline(Readable.from(['id,total\n', '1,20\n']), outgoing)
    // Work after the answer (an audit row, say): its services are still there.
    await goOn.promise
    try {
      audit.lines.push('exported')
      handlerDone.resolve(`disposed: ${c.var.lifeguard.disposed}, ${c.var.lifeguard.get<{ lines: string[] }>('audit').lines.join()}`)
    } catch (error) {
      handlerDone.resolve((error as Error).name)
    }
    return RESPONSE_ALREADY_SENT
  })
  const server = await listen(app)
  try {
    const response = await fetch(`${server.url}/export`)
    assert.is(response.status, 200)
    assert.is(await response.text(), 'id,total\n1,20\n')
    // Before the fix the scope was disposed when the response closed, under the running handler.
    await responseClosed.within('the response to close')
    await new Promise((resolve) => setImmediate(resolve))
    assert.is(disposeCalls, 0, 'not disposed while the handler still runs')
    goOn.resolve()
    assert.is(await handlerDone.within('the handler to finish'), 'disposed: false, exported')
    await disposed.within('the scope to be disposed once the handler returned')
    // A second disposal would come after the first: give it room to show up.
    await delay(20)
    assert.is(disposeCount(), 1)
    assert.is(disposeCalls, 1, 'dispose() called once')
    assert.is(container.openScopes, 0)
  } finally {
    await server.close()
    await container.dispose()
  }
})

test('keeps its scope for a middleware below that works on after the handler answered and returned', async () => {
  const audit = auditContainer()
  const responseClosed = new Deferred()
  const goOn = new Deferred()
  const middlewareDone = new Deferred<string>()
  const app = quietApp()
  app.use(lifeguard({ container: audit.container }))
  // A unit of work that ends after the handler: it commits once the handler has returned.
  app.use(async (c, next) => {
    await next()
    await goOn.promise
    try {
      c.var.lifeguard.get<{ lines: string[] }>('audit').lines.push('committed')
      middlewareDone.resolve(`disposed: ${c.var.lifeguard.disposed}`)
    } catch (error) {
      middlewareDone.resolve((error as Error).name)
    }
  })
  app.get('/export', async (c) => {
    // Answered after an await and returned at once: Hono has its response (RESPONSE_ALREADY_SENT) before the
    // Node response closes.
    await Promise.resolve()
    const outgoing = (c.env as { outgoing: ServerResponse }).outgoing
    outgoing.once('close', () => responseClosed.resolve())
    outgoing.writeHead(200, { 'content-type': 'text/plain' })
    outgoing.end('done')
    return RESPONSE_ALREADY_SENT
  })
  await scopeOutlivesResponse(app, audit, { path: '/export', body: 'done', responseClosed, goOn, workDone: middlewareDone, found: 'disposed: false' })
})

test('a response a middleware above sent before calling next() keeps the scope until the chain below has settled', async () => {
  const audit = auditContainer()
  const responseClosed = new Deferred()
  const goOn = new Deferred()
  const handlerDone = new Deferred<string>()
  const app = quietApp()
  // Answers at once (a cache hit, say) and lets the rest run for its side effects.
  app.use(async (c, next) => {
    const outgoing = (c.env as { outgoing: ServerResponse }).outgoing
    outgoing.once('close', () => responseClosed.resolve())
    outgoing.writeHead(200, { 'content-type': 'text/plain' })
    outgoing.end('cached')
    await next()
    // The answer is out: node-server must not write the one the route made.
    c.res = undefined
    c.res = RESPONSE_ALREADY_SENT
  })
  app.use(lifeguard({ container: audit.container }))
  app.get('/report', async (c) => {
    const audit = c.var.lifeguard.get<{ lines: string[] }>('audit')
    await goOn.promise
    try {
      audit.lines.push('refreshed')
      handlerDone.resolve(`disposed: ${c.var.lifeguard.disposed}, ${c.var.lifeguard.get<{ lines: string[] }>('audit').lines.join()}`)
    } catch (error) {
      handlerDone.resolve((error as Error).name)
    }
    return c.text('unused')
  })
  await scopeOutlivesResponse(app, audit, { path: '/report', body: 'cached', responseClosed, goOn, workDone: handlerDone, found: 'disposed: false, refreshed' })
})

test.run()
