// Preloaded into a quick-start program by the packed-install test. A program listens where its README
// says (`app.listen(3000)`); here that port may be taken (another service, another test run), so every
// fixed port becomes a free one, and the parent learns which: `{ type: 'listening', requested, port }`.
import net from 'node:net'

// The IPC channel must not keep a program alive that would otherwise end by itself.
process.channel?.unref()

const listen = net.Server.prototype.listen
net.Server.prototype.listen = function listenOnFreePort(...args) {
  let requested
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) {
    requested = Number(args[0])
    args[0] = 0
  } else if (args[0] !== null && typeof args[0] === 'object' && args[0].port !== undefined) {
    requested = Number(args[0].port)
    args[0] = { ...args[0], port: 0 }
  }
  if (requested !== undefined && requested !== 0) {
    this.once('listening', () => process.send?.({ type: 'listening', requested, port: this.address().port }))
  }
  return listen.apply(this, args)
}
