import type { HttpOperation } from '@lifeguard/core/http'
import type { Context } from 'hono'

/**
 * Where the runtime gives no response to watch (fetch-style runtimes, `app.request()`): no body (or a HEAD
 * request's) means the response is done; a streamed body keeps the scope until its last chunk was
 * read, or until the runtime cancels it (the client went away).
 */
export function holdUntilSent(c: Context, operation: HttpOperation): void {
  const body = c.finalized ? c.res.body : null
  if (!(body instanceof ReadableStream)) return operation.closed(true)
  // A HEAD response sends no body: Hono answers it from the GET route and drops that body unread, so a
  // watch on it would never end (one scope left open per HEAD request). Cancelled here, a streamed body's
  // producer stops (Hono's `onAbort`) instead of waiting for good on a write nobody reads.
  if (c.req.raw.method === 'HEAD') {
    void body.cancel().catch(() => undefined)
    return operation.closed(true)
  }
  c.res = new Response(watched(body as ReadableStream<Uint8Array>, (finished) => operation.closed(finished)), c.res)
}

function watched(body: ReadableStream<Uint8Array>, done: (finished: boolean) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: ended } = await reader.read()
        if (!ended) return controller.enqueue(value)
        controller.close()
        done(true)
      } catch (error) {
        controller.error(error)
        done(false)
      }
    },
    cancel(reason) {
      // The body's own cleanup (Hono's `onAbort`) runs first, while the scope it may use is still open.
      return reader.cancel(reason).finally(() => done(false))
    },
  })
}
