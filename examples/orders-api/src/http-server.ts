import type { Server } from 'node:http'

/**
 * Starts listening and resolves with the address actually bound (`port: 0` picks a free one).
 *
 * @throws {Error} e.g. `EADDRINUSE`, with the address in the message
 */
export function listen(server: Server, port: number, host: string): Promise<URL> {
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
 * Stops accepting connections and waits for the requests in flight to finish; idle keep-alive
 * connections are closed at once. After `timeoutMillis` the remaining connections are cut.
 * Resolves `true` when everything finished in time.
 */
export function drain(server: Server, timeoutMillis: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve(true)
    let finished = true
    const timer = setTimeout(() => {
      finished = false
      server.closeAllConnections()
    }, timeoutMillis)
    server.close(() => {
      clearTimeout(timer)
      resolve(finished)
    })
    // A keep-alive connection that is idle now would otherwise hold `close()` until it times out.
    server.closeIdleConnections()
  })
}
