import { createServiceContainer } from '@lifeguard/core'
import { Deferred, waitFor } from '@lifeguard/http-conformance'
import { stream } from 'hono/streaming'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { lifeguard } from '../src/index.js'
import { listen, quietApp } from './_helpers/driver.js'

// Hono answers HEAD from the GET route and drops that route's body unread.
const test = suite('Hono on @hono/node-server: a HEAD request to a streamed route')

test("stops the stream's producer (its onAbort runs) and gives the scope back", async () => {
  const container = createServiceContainer().scoped('feed', () => ({ subscribed: true }))
  const unsubscribed = new Deferred()
  const app = quietApp()
  app.use(lifeguard({ container }))
  app.get('/events', (c) => {
    const feed = c.var.lifeguard.get<{ subscribed: boolean }>('feed')
    return stream(c, async (body) => {
      body.onAbort(() => {
        feed.subscribed = false
        unsubscribed.resolve()
      })
      // A producer that writes until it is stopped, as an event feed does.
      while (feed.subscribed) await body.write('event\n')
    })
  })
  const server = await listen(app)
  try {
    const head = await fetch(`${server.url}/events`, { method: 'HEAD' })
    assert.is(head.status, 200)
    assert.is(await head.text(), '')
    // Before the fix the producer waited for good on a write nobody read, and its subscription stayed.
    await unsubscribed.within('the stream to be aborted')
    await waitFor('the scope to be disposed', () => container.openScopes === 0)
    // A GET of the same route still streams.
    const get = await fetch(`${server.url}/events`)
    const reader = get.body!.getReader()
    const first = await reader.read()
    assert.match(new TextDecoder().decode(first.value), 'event')
    await reader.cancel()
  } finally {
    await server.close()
    await container.dispose()
  }
})

test.run()
