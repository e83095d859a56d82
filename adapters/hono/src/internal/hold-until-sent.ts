import type { HttpOperation } from '@lifeguard/core/http'
import type { Context } from 'hono'

/**
 * Where the runtime gives no response to watch (fetch-style runtimes, `app.request()`): no body (or a HEAD
 * request's) means the response is done; a streamed body keeps the scope until its last chunk was
 * read, or until the runtime cancels it (the client went away).
 */
export function holdUntilSent(c: Context, operation: HttpOperation): void {
  // A HEAD response sends no body: Hono answers it from the GET route and drops that body unread, so a
  // watch on it would never end (one scope left open per HEAD request).
  if (c.req.raw.method === 'HEAD') {
    cancelBody(c)
    return operation.closed(true)
  }
  const body = c.finalized ? c.res.body : null
  if (!(body instanceof ReadableStream)) return operation.closed(true)
  c.res = new Response(watched(body as ReadableStream<Uint8Array>, (finished) => operation.closed(finished)), c.res)
}

/**
 * Cancels the body of a response nobody will read (a HEAD request's, answered from the GET route): a streamed
 * body's producer stops (Hono's `onAbort`) instead of waiting for good on a write nobody reads.
 */
export function cancelBody(c: Context): void {
  const body = c.finalized ? c.res.body : null
  if (body instanceof ReadableStream) void body.cancel().catch(() => undefined)
}

// A copy of `body` that calls `done` once: `true` when the body has been read to its end, `false` when it
// failed or was cancelled. It reads ahead by up to two chunks: a body made whole (`c.json()`, `c.text()`: a
// fetch `Response` exposes every body as a stream) ends within them, so its scope is done whether or not
// anyone reads the response (a test of `app.request()` that checks only the status).
function watched(body: ReadableStream<Uint8Array>, done: (finished: boolean) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  // 'cancelling': `cancel` ends the watch once the body's own cleanup has run.
  let state: 'reading' | 'cancelling' | 'over' = 'reading'
  const finish = (finished: boolean): void => {
    if (state === 'over') return
    state = 'over'
    done(finished)
  }
  // Moves one chunk across; false once there is nothing more to move.
  const move = async (controller: ReadableStreamDefaultController<Uint8Array>): Promise<boolean> => {
    try {
      const { value, done: ended } = await reader.read()
      if (state !== 'reading') return false
      if (ended) {
        controller.close()
        finish(true)
        return false
      }
      controller.enqueue(value)
      return true
    } catch (error) {
      if (state !== 'reading') return false
      controller.error(error)
      finish(false)
      return false
    }
  }
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      if (await move(controller)) await move(controller)
    },
    async pull(controller) {
      await move(controller)
    },
    cancel(reason) {
      if (state === 'reading') state = 'cancelling'
      // The body's own cleanup (Hono's `onAbort`) runs first, while the scope it may use is still open.
      return reader.cancel(reason).finally(() => finish(false))
    },
  })
}
