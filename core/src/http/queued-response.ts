import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'

// The emitter's own method: `res.on` looked up through Express's response prototype chain was the costliest
// of those misses (measured: the 'close' listener was ~10k instructions a request); it adds the same listener.
const addListener = EventEmitter.prototype.on

/**
 * Calls `closed` when the response is done with: its own `'close'` (after `'finish'`, or alone when the
 * connection drops first), or its connection's, for a pipelined response still waiting in line (see
 * `whileQueued`). What every adapter on a Node server watches.
 *
 * @example
 * onResponseClose(req, res, () => operation.closed(sentInFull(res)))
 */
export function onResponseClose(request: IncomingMessage, response: ServerResponse, closed: () => void): void {
  const socket = response.socket as Socket | null | undefined
  // Node emits a response's 'close' once. It may be gone before the adapter runs: the client left while a
  // middleware mounted before it awaited (an auth or session lookup), or one of them answered and called
  // next() anyway. Nothing else would come, and the operation would never end (its scope never disposed).
  // Told on a microtask, once the operation runs, as a disconnect during the handler is. A response that
  // holds an open connection (nearly every one) is not asked: on Express each read of `res` misses V8's caches.
  if ((socket === null || socket === undefined || socket.destroyed) && closedAlready(response)) return queueMicrotask(closed)
  addListener.call(response, 'close', closed)
  watchQueued(request, response, socket, closed)
}

// HTTP/1's response says so itself; HTTP/2's compatibility response has no `closed` (nor a socket once its
// stream is gone): its stream tells.
function closedAlready(response: ServerResponse): boolean {
  const closed = (response as { closed?: boolean }).closed
  return closed ?? (response as unknown as { stream?: { destroyed: boolean } }).stream?.destroyed === true
}

// The callbacks of a connection's responses still waiting in line, kept on the connection itself: one
// 'close' listener per connection however many requests a client pipelines (one per response passed
// Node's listener limit at 11, a warning any client could set off).
const queuedOn = Symbol('lifeguard.http.queued')
type QueuedSocket = Socket & { [queuedOn]?: Set<() => void> }

/**
 * Calls `dropped` when the connection closes while `response` still waits in line for it. On a pipelined
 * connection a response gets the socket only when the one before it has been sent, and Node emits nothing
 * on a response that never got it: no `'close'`, no `'finish'`. Without this, such a request's operation
 * never ended (measured: two clients that went away with a pipelined request each held a pool of two for
 * good). Once the response has its socket, its own `'close'` tells, and it is no longer watched here.
 *
 * Costs one property read on a request that is not queued (nearly all of them).
 *
 * @example
 * res.on('close', onClose)
 * whileQueued(req, res, onClose)
 */
export function whileQueued(request: IncomingMessage, response: ServerResponse, dropped: () => void): void {
  watchQueued(request, response, response.socket, dropped)
}

// `whileQueued` given the response's socket, read once by the caller.
function watchQueued(request: IncomingMessage, response: ServerResponse, responseSocket: Socket | null | undefined, dropped: () => void): void {
  // HTTP/2's compatibility response always has its stream's socket: nothing waits in line there.
  if (responseSocket !== null) return
  // Sent in full already (watched from its own 'finish', which took the socket from it): its 'close' is a tick away.
  if (response.writableFinished) return
  const socket = request.socket as QueuedSocket
  // Closed before the adapter ran (see `onResponseClose`): its 'close' is gone too.
  if (socket.destroyed) return queueMicrotask(dropped)
  let queued = socket[queuedOn]
  if (queued === undefined) {
    const waiting = (queued = socket[queuedOn] = new Set())
    socket.once('close', () => {
      delete socket[queuedOn]
      for (const callback of waiting) callback()
    })
  }
  const waiting = queued
  waiting.add(dropped)
  response.once('socket', () => waiting.delete(dropped))
}

/**
 * True when the response was sent in full, for `HttpOperation.closed()` on its `'close'` event; false
 * when the client went away first. Both flags are read: on HTTP/2 a stream the client reset reads as
 * finished, but was never ended.
 */
export function sentInFull(response: { readonly writableEnded: boolean; readonly writableFinished: boolean }): boolean {
  return response.writableEnded && response.writableFinished
}
