// A TCP proxy in front of the test server that delivers each ReadyForQuery following an ErrorResponse late, as the
// network may: PostgreSQL flushes its ErrorResponse before it sends ReadyForQuery, and the two can arrive in
// separate reads. pg hands the error over at once, and until it reads the ReadyForQuery its transaction status
// is the one from before the failed statement. Everything the server sends after that ReadyForQuery waits with
// it, so the order holds.
import { connect, createServer, type AddressInfo, type Socket } from 'node:net'

const ERROR_RESPONSE = 0x45 // 'E'
const READY_FOR_QUERY = 0x5a // 'Z'

export interface LateReadyProxy {
  readonly host: string
  readonly port: number
  /** ReadyForQuery messages delivered late so far. */
  delayed(): number
  close(): Promise<void>
}

export async function lateReadyProxy(target: { host: string; port: number }, delayMillis = 20): Promise<LateReadyProxy> {
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let delayed = 0
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('close', () => {
        sockets.delete(socket)
        client.destroy()
        upstream.destroy()
      })
      socket.on('error', () => undefined)
    }
    client.on('data', (chunk) => upstream.write(chunk))
    // Messages are a type byte and a length (itself included); a chunk may end inside one.
    let unread = Buffer.alloc(0)
    let lastType = 0
    let held: Buffer[] | undefined
    upstream.on('data', (chunk) => {
      unread = Buffer.concat([unread, chunk])
      let start = 0
      let passed = 0
      while (unread.length - start >= 5) {
        const end = start + 1 + unread.readInt32BE(start + 1)
        if (end > unread.length) break
        const type = unread[start] as number
        if (held === undefined && type === READY_FOR_QUERY && lastType === ERROR_RESPONSE) {
          client.write(unread.subarray(passed, start))
          passed = start
          held = []
          delayed++
          const timer = setTimeout(() => {
            timers.delete(timer)
            client.write(Buffer.concat(held ?? []))
            held = undefined
          }, delayMillis)
          timers.add(timer)
        }
        lastType = type
        start = end
      }
      const complete = unread.subarray(passed, start)
      if (held !== undefined) held.push(Buffer.from(complete))
      else client.write(complete)
      unread = Buffer.from(unread.subarray(start))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    host: '127.0.0.1',
    port: (server.address() as AddressInfo).port,
    delayed: () => delayed,
    close: () =>
      new Promise<void>((resolve) => {
        for (const timer of timers) clearTimeout(timer)
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}
