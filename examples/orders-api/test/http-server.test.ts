import { Agent, createServer, get, type Server } from 'node:http'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { connect } from 'node:net'
import { drain, listen, requestsInFlight } from '../src/http-server.js'
import { eventually } from './_helpers/http.js'

const Drain = suite('drain')

// One request on a kept-alive connection: the response's Connection header, or the error's code.
function fetchOnce(url: string, agent: Agent): Promise<string> {
  return new Promise((resolve) => {
    get(url, { agent }, (response) => {
      response.resume()
      response.on('end', () => resolve(response.headers.connection ?? ''))
    }).on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'))
  })
}

/**
 * Listens, and runs one client on one kept-alive connection that sends its next request as soon as the last is
 * answered (as a loaded service sees) until the server refuses it; returns what each request got.
 */
async function busyClient(server: Server): Promise<string[]> {
  const url = (await listen(server, 0, '127.0.0.1')).toString()
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  const seen: string[] = []
  for (let i = 0; i < 500 && seen.at(-1) !== 'ECONNREFUSED'; i++) seen.push(await fetchOnce(url, agent))
  agent.destroy()
  return seen
}

Drain('a busy keep-alive client is told to close and let go: the drain ends, not the cut', async () => {
  let served = 0
  let draining: Promise<number> | undefined
  // The drain starts while the 20th request is in flight on the client's kept-alive connection.
  const server = createServer((_request, response) => {
    if (++served === 20) draining = drain(server, 10_000)
    setTimeout(() => response.end('ok'), 2)
  })
  const seen = await busyClient(server)
  assert.ok(draining, 'the drain started')
  assert.is(await draining, 0, 'every request finished before the cut')
  assert.ok(seen.slice(0, 19).every((connection) => connection === 'keep-alive'))
  // The one in flight when the drain began is answered with `Connection: close`: no next request on it.
  assert.is(seen[19], 'close', seen.slice(19).join(' '))
  assert.equal(seen.slice(20), ['ECONNREFUSED'], 'then the client found the server closed')
})

Drain('a busy keep-alive client between two requests when the drain begins gets its next answer, not a reset', async () => {
  let served = 0
  let draining: Promise<number> | undefined
  // The drain starts once the 20th response has gone out: the connection is idle, the next request on its way.
  const server = createServer((_request, response) => {
    if (++served === 20) response.once('finish', () => void (draining = drain(server, 10_000)))
    response.end('ok')
  })
  const seen = await busyClient(server)
  assert.ok(draining, 'the drain started')
  assert.is(await draining, 0, 'no request cut off')
  assert.ok(seen.slice(0, 20).every((connection) => connection === 'keep-alive'), seen.slice(0, 20).join(' '))
  assert.is(seen[20], 'close', `the request after the drain began: ${seen.slice(20).join(' ')}`)
  assert.equal(seen.slice(21), ['ECONNREFUSED'])
})

Drain('counts the requests still unanswered when the time runs out, and cuts them off', async () => {
  // Two requests the handler never answers, on connections of their own.
  let taken = 0
  const server = createServer(() => void (taken += 1))
  const url = (await listen(server, 0, '127.0.0.1')).toString()
  const outcomes = [0, 1].map(() => fetchOnce(url, new Agent({ keepAlive: false })))
  assert.ok(await eventually(async () => taken === 2), 'both requests reached the handler')
  assert.is(await drain(server, 100), 2, 'both cut off')
  assert.equal(await Promise.all(outcomes), ['ECONNRESET', 'ECONNRESET'], 'their clients see the cut')
})

Drain('a pipelined request whose client left before its turn is no longer counted in flight', async () => {
  let first: (() => void) | undefined
  const server = createServer((_request, response) => {
    first ??= () => response.end('ok')
  })
  const url = await listen(server, 0, '127.0.0.1')
  try {
    const socket = connect(Number(url.port), '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    // Two requests in one write: the second waits in line behind the first, which is not answered.
    socket.write('GET /orders/1 HTTP/1.1\r\nHost: x\r\n\r\nGET /orders/2 HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.ok(await eventually(async () => requestsInFlight(server) === 2), 'both requests taken in')
    socket.destroy()
    // Before, the one waiting in line stayed counted (and held) for good.
    assert.ok(await eventually(async () => requestsInFlight(server) === 0), `both let go once the client left (${requestsInFlight(server)} still counted)`)
  } finally {
    first?.()
    await new Promise((resolve) => server.close(resolve))
  }
})

Drain('pipelined requests in flight when the drain begins are all answered: only the last says Connection: close', async () => {
  const answers: (() => void)[] = []
  const server = createServer((request, response) => void answers.push(() => response.end(`ok ${request.url}`)))
  const url = await listen(server, 0, '127.0.0.1')
  const socket = connect(Number(url.port), '127.0.0.1')
  try {
    await new Promise((resolve) => socket.once('connect', resolve))
    let received = ''
    socket.on('data', (chunk: Buffer) => void (received += chunk.toString('latin1')))
    const ended = new Promise((resolve) => socket.once('end', resolve))
    // Three requests in one write: the second and third wait in line, their handlers run at once.
    socket.write(['/orders/1', '/orders/2', '/orders/3'].map((path) => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`).join(''))
    assert.ok(await eventually(async () => answers.length === 3), 'all three handlers ran')
    const draining = drain(server, 10_000)
    for (const answer of answers) answer()
    await ended
    assert.is(await draining, 0)
    const responses = received.split('HTTP/1.1 200 OK').slice(1)
    assert.is(responses.length, 3, `every response reached the client:\n${received}`)
    // The first two keep the connection open (no `Connection: close`) for the ones behind them.
    assert.equal(responses.map((response) => /connection: close/i.test(response)), [false, false, true])
    assert.match(responses[2] ?? '', 'ok /orders/3')
  } finally {
    socket.destroy()
  }
})

Drain.run()
