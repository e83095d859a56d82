import { Agent, createServer, get, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { onResponseClose } from '../../src/http.js'

const test = suite("onResponseClose: told once when the response is done, nothing kept on the connection")

// What the watch left on a connection: the callbacks of responses still waiting in line for it.
const keptOn = (socket: Socket): number => Object.getOwnPropertySymbols(socket).filter((symbol) => symbol.description === 'lifeguard.http.queued').length

test("a response sent before it is watched, from its own 'finish' (a middleware that calls next() once the body is out): told once by its 'close', nothing kept on the keep-alive connection", async () => {
  let told = 0
  let serverSocket: Socket | undefined
  let kept = -1
  const watched = new Promise<void>((resolve) => {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      serverSocket = req.socket
      // By now Node has taken the socket from the response ('finish' came first), and its 'close' is a tick away.
      res.end('done', () => {
        onResponseClose(req, res, () => void told++)
        kept = keptOn(req.socket)
        resolve()
      })
    })
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo
      const agent = new Agent({ keepAlive: true })
      get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
        res.resume()
        res.on('end', () => {
          void watched.then(async () => {
            await new Promise((done) => setImmediate(done))
            const closed = new Promise((done) => serverSocket?.once('close', done))
            agent.destroy()
            await closed
            server.close()
          })
        })
      })
    })
  })
  await watched
  // Before: watched as a response still waiting in line for the connection, kept there until it closed, and told again then.
  assert.is(kept, 0, 'nothing kept on the connection')
  await new Promise<void>((resolve) => {
    const check = (): void => {
      if (serverSocket?.destroyed === true) setImmediate(resolve)
      else setTimeout(check, 10)
    }
    check()
  })
  await new Promise((done) => setImmediate(done))
  assert.is(told, 1, 'told once')
})

test.run()
