import { once } from 'node:events'
import { connect } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import type { Probe, ScopeRecord } from '../fixture.js'
import { Harness } from '../harness.js'
import { delay, Signals, waitFor } from '../wait.js'

// `answered`: the response was sent in full, so the context must not read as aborted (a client gone, a deadline).
async function disposedOnce(harness: Harness, requestId: string, { answered = false } = {}): Promise<Probe> {
  const probe = harness.fixture.probes.get(requestId)
  assert.ok(probe, `the handler of ${requestId} resolved its probe`)
  await waitFor(`the scope of ${requestId} disposed`, () => probe.disposeCount > 0)
  // A second dispose() would come after the first: give it room to show up (and see the suite's last test).
  await delay(20)
  assert.is(probe.disposeCount, 1, 'disposed once')
  assert.is(probe.disposeCalls, 1, 'dispose() called once')
  assert.ok(probe.context.disposed)
  if (answered) assert.not.ok(probe.context.aborted, 'a response sent in full does not abort its context')
  return probe
}

// One scope for the request, given back through one call to its operation's dispose(): also where no route
// ran to resolve a probe.
async function oneScopeDisposedOnce(record: ScopeRecord, requestId: string): Promise<void> {
  await waitFor(`a scope of ${requestId} created and disposed`, () => record.disposed)
  // A second scope or a second dispose() would come after the first: give them room to show up.
  await delay(20)
  assert.is(record.created, 1, 'one scope')
  assert.is(record.disposeCalls, 1, 'dispose() called once')
}

/** The scope is given back exactly once, however the request ends. */
export function disposalSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: the scope is disposed exactly once, however the request ends`)
  const harness = new Harness()
  test.before(() => harness.start(driver))
  test.after(() => harness.stop())

  test('after a successful response', async () => {
    const response = await harness.get('/ok', { requestId: 'ok-1' })
    assert.is(response.status, 200)
    assert.is(((await response.json()) as { ok: boolean }).ok, true)
    await disposedOnce(harness, 'ok-1', { answered: true })
  })

  test('after the handler throws, with the framework answering 500', async () => {
    const response = await harness.get('/throw', { requestId: 'throw-1' })
    assert.is(response.status, 500)
    await response.arrayBuffer()
    await disposedOnce(harness, 'throw-1', { answered: true })
  })

  test('after a streamed response has ended, not before', async () => {
    const response = await harness.get('/stream', { requestId: 'stream-1' })
    assert.is(response.status, 200)
    assert.ok(response.body)
    const reader = response.body.getReader()
    const decoder = new TextDecoder()
    let text = ''
    while (!text.includes('first\n')) {
      const { value, done } = await reader.read()
      assert.not.ok(done, 'the stream ended before its first chunk')
      text += decoder.decode(value, { stream: true })
    }
    const probe = harness.fixture.probes.get('stream-1')
    assert.ok(probe)
    assert.is(probe.disposeCount, 0, 'disposed while the body was still streaming')
    assert.not.ok(probe.context.disposed)
    harness.signals.gates.get('stream-1').resolve()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value, { stream: true })
    }
    assert.is(text, 'first\nsecond\n')
    await disposedOnce(harness, 'stream-1', { answered: true })
  })

  test('after the client aborts mid-request: the signal aborts, and disposal waits for the handler', async () => {
    const controller = new AbortController()
    const request = harness.get('/slow', { requestId: 'abort-1', signal: controller.signal }).then(
      () => 'answered',
      (error: unknown) => (error as Error).name,
    )
    await harness.signals.entered.get('abort-1').within('the handler of abort-1 to start')
    controller.abort()
    assert.is(await request, 'AbortError')
    const probe = await disposedOnce(harness, 'abort-1')
    assert.ok(probe.sawAbort, 'the context signal aborted when the client went away')
    assert.ok(probe.context.aborted)
    assert.not.ok(probe.disposedWhileRunning, 'the scope was disposed while the handler still ran')
  })

  // A server whose requests with an id starting `held-` wait in a middleware mounted before lifeguard() (an
  // auth lookup) until the test lets them go; `socketsClosed` counts the connections the server saw close.
  async function startHeld(): Promise<{ held: Harness; arrived: Signals; lookups: Signals; socketsClosed: () => number }> {
    const arrived = new Signals()
    const lookups = new Signals()
    const held = new Harness()
    await held.start(driver, {
      holdBefore: (requestId) => {
        if (requestId?.startsWith('held-') !== true) return undefined
        arrived.get(requestId).resolve()
        return lookups.get(requestId).promise
      },
    })
    let closed = 0
    held.running.server.on('connection', (socket) => void socket.once('close', () => closed++))
    return { held, arrived, lookups, socketsClosed: () => closed }
  }

  test('after the client went away while a middleware mounted before lifeguard() awaited (an auth lookup)', async () => {
    // Node emits a response's 'close' once: gone by the time lifeguard() runs, and nothing else comes.
    const { held, arrived, lookups, socketsClosed } = await startHeld()
    try {
      const controller = new AbortController()
      const request = held.get('/ok', { requestId: 'held-1', signal: controller.signal }).then(
        () => 'answered',
        (error: unknown) => (error as Error).name,
      )
      await arrived.get('held-1').within('the request to reach the middleware before lifeguard()')
      controller.abort()
      assert.is(await request, 'AbortError')
      await waitFor('the server to see the client go', () => socketsClosed() > 0)
      lookups.get('held-1').resolve()
      await waitFor('the handler of held-1 to run', () => held.fixture.probes.has('held-1'))
      const probe = await disposedOnce(held, 'held-1')
      assert.ok(probe.context.aborted, 'the context reads as aborted: its client is gone')
    } finally {
      await held.stop()
    }
  })

  test('after the client went away with a pipelined request held before lifeguard()', async () => {
    const { held, arrived, lookups, socketsClosed } = await startHeld()
    try {
      const { hostname, port } = new URL(held.url)
      const socket = connect(Number(port), hostname)
      await once(socket, 'connect')
      socket.write(`GET /slow HTTP/1.1\r\nHost: ${hostname}\r\nX-Request-Id: pipe-first\r\n\r\nGET /ok HTTP/1.1\r\nHost: ${hostname}\r\nX-Request-Id: held-2\r\n\r\n`)
      await held.signals.entered.get('pipe-first').within('the handler of pipe-first to start')
      await arrived.get('held-2').within('the pipelined request to reach the middleware before lifeguard()')
      socket.destroy()
      await waitFor('the server to see the client go', () => socketsClosed() > 0)
      lookups.get('held-2').resolve()
      await waitFor('the handler of held-2 to run', () => held.fixture.probes.has('held-2'))
      await disposedOnce(held, 'pipe-first')
      // (Whether it reads as aborted is the runtime's word on fetch-style runtimes: their request signal.)
      await disposedOnce(held, 'held-2')
    } finally {
      await held.stop()
    }
  })

  test('after the client goes away in the middle of a streamed body', async () => {
    const controller = new AbortController()
    const response = await harness.get('/stream', { requestId: 'stream-abort-1', signal: controller.signal })
    assert.ok(response.body)
    const reader = response.body.getReader()
    const { done } = await reader.read()
    assert.not.ok(done)
    controller.abort()
    await reader.read().catch(() => undefined)
    const probe = await disposedOnce(harness, 'stream-abort-1')
    assert.ok(probe.context.aborted, 'the context was aborted')
    harness.signals.gates.get('stream-abort-1').resolve()
  })

  test('after the client goes away with a pipelined request still waiting for its turn', async () => {
    // Two requests on one connection: the second's response waits behind the first's, and Node emits
    // nothing on a response that never got the connection.
    const { hostname, port } = new URL(harness.url)
    const socket = connect(Number(port), hostname)
    await once(socket, 'connect')
    socket.write(`GET /slow HTTP/1.1\r\nHost: ${hostname}\r\nX-Request-Id: pipelined-1\r\n\r\nGET /ok HTTP/1.1\r\nHost: ${hostname}\r\nX-Request-Id: pipelined-2\r\n\r\n`)
    await harness.signals.entered.get('pipelined-1').within('the handler of pipelined-1 to start')
    await waitFor('the handler of pipelined-2 to run', () => harness.fixture.probes.has('pipelined-2'))
    socket.destroy()
    const first = await disposedOnce(harness, 'pipelined-1')
    assert.ok(first.sawAbort, 'the first request saw the client go away')
    // Never sent, and yet given back (where the runtime does not report the send, at once, as complete).
    await disposedOnce(harness, 'pipelined-2')
  })

  test('a failing disposer is reported and the response is unaffected', async () => {
    const before = harness.fixture.reported.length
    const response = await harness.get('/faulty', { requestId: 'faulty-1' })
    assert.is(response.status, 200)
    assert.equal(await response.json(), { ok: true, body: 'intact' })
    await waitFor('the disposal failure reported', () => harness.fixture.reported.length > before)
    const reported = harness.fixture.reported[before]
    assert.instance(reported, AggregateError)
    assert.is((reported as { code?: unknown }).code, 'ERR_DISPOSE_FAILED')
    assert.match((reported as AggregateError).errors.map((e: Error) => e.message).join(' '), 'Disposer failed on purpose.')
    const again = await harness.get('/ok', { requestId: 'after-faulty' })
    assert.is(again.status, 200, 'the server still answers')
    await again.arrayBuffer()
  })

  test('a request no route matched still gets a scope, and gives it back', async () => {
    const record = harness.fixture.watchScopes('unmatched-1')
    const response = await harness.get('/no/such/route', { requestId: 'unmatched-1' })
    assert.is(response.status, 404)
    await response.arrayBuffer()
    await oneScopeDisposedOnce(record, 'unmatched-1')
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
  })

  // Read off the wire: `fetch` drops a body after these, so it would not show one sent by mistake.
  const withoutBody = [
    ['a HEAD request to a route with a body', 'HEAD', '/ok', 200],
    ['a 204 response', 'GET', '/no-content', 204],
    ['a 304 response (with its ETag)', 'GET', '/not-modified', 304],
  ] as const
  for (const [what, method, path, status] of withoutBody) {
    test(`${what}: one scope, disposed once, and no body`, async () => {
      const requestId = `no-body-${method}-${status}`
      const record = harness.fixture.watchScopes(requestId)
      const { head, body } = await harness.exchange(method, path, requestId)
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `))
      assert.match(head.toLowerCase(), `\r\nx-request-id: ${requestId.toLowerCase()}`)
      if (status === 304) assert.match(head.toLowerCase(), '\r\netag: "v1"')
      assert.is(body.toString('latin1'), '', 'nothing after the headers')
      await disposedOnce(harness, requestId, { answered: true })
      await oneScopeDisposedOnce(record, requestId)
    })
  }

  // Last: a second dispose() the server's closing connections would set off (a watcher left on a connection
  // that closes only now) would come after every check above.
  test('no scope is disposed a second time once the server has closed its connections', async () => {
    await harness.stop()
    for (const [requestId, probe] of harness.fixture.probes) assert.is(probe.disposeCalls, 1, `dispose() of ${requestId} called once`)
  })

  test.run()
}
