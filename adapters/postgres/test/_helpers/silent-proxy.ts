// A TCP proxy in front of the test server that can go silent, as a partitioned or paused server does: it
// stops passing bytes on and never closes a connection. Either end closing closes the other.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

export interface SilentProxy {
  readonly host: string
  readonly port: number
  /** Client connections open now. */
  open(): number
  /** Chunks the clients sent that were not passed on (silenced, or after the login). */
  swallowed(): number
  /** PostgreSQL cancel requests that came through it, passed on or not. */
  cancelRequests(): number
  /** From now on, nothing the clients send reaches the server, and nothing is answered. */
  silence(): void
  /**
   * From now on, what the clients send still reaches the server, but nothing it sends reaches them: an answer lost
   * on its way back (the statement ran, its sender cannot tell).
   */
  dropReplies(): void
  /**
   * Passes each connection's startup on (up to the server's first ReadyForQuery), then swallows what the
   * client sends: a server that accepts logins and never answers a query (a paused PgBouncer).
   */
  answerLoginsOnly(): void
  close(): Promise<void>
}

export async function silentProxy(target: { host: string; port: number }): Promise<SilentProxy> {
  const sockets = new Set<Socket>()
  let silent = false
  let repliesDropped = false
  let loginsOnly = false
  let swallowed = 0
  let cancels = 0
  // Half-open allowed: a client's FIN does not close the proxy's side by itself (a partitioned server never
  // answers one).
  const server = createServer({ allowHalfOpen: true }, (client) => {
    sockets.add(client)
    const upstream = connect(target.port, target.host)
    let ready = false
    client.on('data', (chunk) => {
      // A CancelRequest: length 16, then the code 80877102.
      if (chunk.length === 16 && chunk.readInt32BE(4) === 80877102) cancels++
      if (silent || (loginsOnly && ready)) return void swallowed++
      upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (silent || repliesDropped) return
      // 'Z': ReadyForQuery, sent once the login is done (and after every query).
      if (!ready && chunk.includes(0x5a)) ready = true
      client.write(chunk)
    })
    const closeBoth = () => {
      sockets.delete(client)
      client.destroy()
      upstream.destroy()
    }
    client.on('end', () => {
      if (!silent) upstream.end()
    })
    client.on('close', closeBoth)
    upstream.on('close', () => {
      // A silent proxy keeps the client's side open, as a partition would.
      if (!silent) closeBoth()
    })
    client.on('error', () => undefined)
    upstream.on('error', () => undefined)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    open: () => sockets.size,
    swallowed: () => swallowed,
    cancelRequests: () => cancels,
    silence() {
      silent = true
    },
    dropReplies() {
      repliesDropped = true
    },
    answerLoginsOnly() {
      loginsOnly = true
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
