import { connect } from 'node:net'
import type pg from 'pg'

// PostgreSQL's CancelRequest: length 16, the cancel code, then the backend's process id and secret key,
// sent on a connection of its own (the server answers nothing and closes it).
const cancelRequestCode = 80877102
// A server that does not take the request within this is left alone: closing the pool must not wait on it.
const cancelTimeoutMillis = 2000

interface BackendKey {
  readonly host: string
  readonly port: number
  readonly processID: number | null
  readonly secretKey: number | null
}

/**
 * Asks the server to stop whatever `client`'s session is running. Closing a connection alone does not:
 * a backend busy with a statement, or waiting for a lock, reads the goodbye only when it is done, so its
 * session (and its locks) outlived the pool that gave it up. Never rejects; settles once the request was
 * sent, refused, or after 2 s.
 *
 * @example
 * await Promise.all([requestCancel(client), client.end()])
 */
export function requestCancel(client: pg.Client): Promise<void> {
  const { host, port, processID, secretKey } = client as unknown as BackendKey
  if (typeof processID !== 'number' || typeof secretKey !== 'number') return Promise.resolve()
  return new Promise<void>((resolve) => {
    const socket = host.startsWith('/') ? connect(`${host}/.s.PGSQL.${port}`) : connect(port, host)
    const done = (): void => {
      socket.destroy()
      resolve()
    }
    socket.setTimeout(cancelTimeoutMillis, done)
    socket.once('error', done)
    socket.once('close', done)
    socket.once('connect', () => {
      const packet = Buffer.alloc(16)
      packet.writeInt32BE(16, 0)
      packet.writeInt32BE(cancelRequestCode, 4)
      packet.writeInt32BE(processID, 8)
      packet.writeInt32BE(secretKey, 12)
      socket.end(packet)
    })
  })
}
