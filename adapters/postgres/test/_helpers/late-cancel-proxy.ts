// A TCP proxy in front of the test server that passes sessions on at once but delivers each cancel request
// late: it takes the request, closes the client's side at once (as a pooler or balancer that acknowledges
// early may), and sends it on `delayMillis` later. The client cannot tell that its request has not landed.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

const cancelRequestCode = 80877102

export interface LateCancelProxy {
  readonly host: string
  readonly port: number
  /** Cancel requests received so far (each before the client's side is closed). */
  requested(): number
  /** Cancel requests sent on to the server so far. */
  delivered(): number
  close(): Promise<void>
}

export async function lateCancelProxy(target: { host: string; port: number }, delayMillis: number): Promise<LateCancelProxy> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let delivered = 0
  let requested = 0
  const track = (socket: Socket): Socket => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => socket.destroy())
    return socket
  }
  const server = createServer((client) => {
    track(client)
    client.once('data', (first) => {
      if (first.length >= 8 && first.readInt32BE(4) === cancelRequestCode) {
        requested++
        client.destroy()
        const timer = setTimeout(() => {
          timers.delete(timer)
          delivered++
          track(connect(target.port, target.host)).end(first)
        }, delayMillis)
        timers.add(timer)
        return
      }
      const upstream = track(connect(target.port, target.host))
      upstream.write(first)
      client.pipe(upstream)
      upstream.pipe(client)
      client.on('close', () => upstream.destroy())
      upstream.on('close', () => client.destroy())
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    requested: () => requested,
    delivered: () => delivered,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
