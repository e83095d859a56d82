import type { IncomingMessage, Server, ServerResponse } from 'node:http'

/**
 * Starts listening and resolves with the address actually bound (`port: 0` picks a free one).
 *
 * @throws {Error} e.g. `EADDRINUSE`, with the address in the message
 */
export function listen(server: Server, port: number, host: string): Promise<URL> {
  trackResponses(server)
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException): void => {
      reject(new Error(`Could not listen on ${host}:${port}. ${error.code === 'EADDRINUSE' ? 'The port is in use; set PORT to another one (PORT=0 picks a free port)' : error.message}.`, { cause: error }))
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      const address = server.address()
      if (address === null || typeof address === 'string') return reject(new Error('The server has no TCP address.'))
      const hostname = address.family === 'IPv6' ? `[${address.address}]` : address.address
      resolve(new URL(`http://${hostname}:${address.port}`))
    })
  })
}

/**
 * Stops accepting connections and waits for the requests in flight to finish; keep-alive connections are
 * closed as soon as they are idle, and a request that still comes in on one is answered with
 * `Connection: close`. After `timeoutMillis` the remaining connections are cut. Resolves `true` when
 * everything finished in time.
 */
export function drain(server: Server, timeoutMillis: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve(true)
    let finished = true
    // `close()` only stops new connections: a busy keep-alive client sends its next request on the one it
    // has, and would be served until the cut (measured: 1,773 requests taken after SIGTERM, 50 reset).
    const closeAfterResponse = (_request: IncomingMessage, response: ServerResponse): void => void response.setHeader('Connection', 'close')
    server.prependListener('request', closeAfterResponse)
    // And the responses still being worked on: answered keep-alive, their clients' next requests on the same
    // connections would be taken after shutdown began.
    for (const response of inFlight.get(server) ?? []) if (!response.headersSent) response.setHeader('Connection', 'close')
    // A connection idle now, or once its response in flight is sent, would otherwise hold `close()`.
    server.closeIdleConnections()
    const sweep = setInterval(() => server.closeIdleConnections(), 50)
    const timer = setTimeout(() => {
      finished = false
      server.closeAllConnections()
    }, timeoutMillis)
    server.close(() => {
      clearTimeout(timer)
      clearInterval(sweep)
      server.off('request', closeAfterResponse)
      resolve(finished)
    })
  })
}

// The responses of each server not yet finished, so that a drain can mark them `Connection: close`.
const inFlight = new WeakMap<Server, Set<ServerResponse>>()

function trackResponses(server: Server): void {
  if (inFlight.has(server)) return
  const open = new Set<ServerResponse>()
  inFlight.set(server, open)
  server.prependListener('request', (_request: IncomingMessage, response: ServerResponse) => {
    open.add(response)
    response.once('close', () => open.delete(response))
  })
}
