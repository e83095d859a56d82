import type { IncomingMessage, ServerResponse } from 'node:http'

/**
 * Calls `dropped` when the connection closes while `response` still waits in line for it. On a pipelined
 * connection a response gets the socket only when the one before it has been sent, and Node emits nothing
 * on a response that never got it: no `'close'`, no `'finish'`. Without this, such a request's operation
 * never ended (measured: two clients that went away with a pipelined request each held a pool of two for
 * good). Once the response has its socket, its own `'close'` tells, and this listener is gone.
 *
 * Costs one property read on a request that is not queued (nearly all of them).
 *
 * @example
 * res.on('close', onClose)
 * whileQueued(req, res, onClose)
 */
export function whileQueued(request: IncomingMessage, response: ServerResponse, dropped: () => void): void {
  // HTTP/2's compatibility response always has its stream's socket: nothing waits in line there.
  if (response.socket !== null) return
  const socket = request.socket
  const onSocketClose = (): void => {
    if (response.socket === null) dropped()
  }
  socket.once('close', onSocketClose)
  response.once('socket', () => socket.off('close', onSocketClose))
}
