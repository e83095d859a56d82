import type { HttpOperation } from '@lifeguard/core/http'
import type { Context } from 'hono'
import { readAhead, watched, type BodyStart } from './watched-body.js'

/**
 * Where the runtime gives no response to watch (fetch-style runtimes, `app.request()`): no body (or a HEAD
 * request's) means the response is done; a body that ends within a short read ahead (`c.json()`, `c.text()`:
 * a fetch `Response` exposes every body as a stream) is answered as bytes with its `Content-Length`, and is
 * done too; a body still being produced keeps the scope until its last chunk was read, or until the runtime
 * cancels it (the client went away). Returns a promise when it reads the body ahead.
 */
export function holdUntilSent(c: Context, operation: HttpOperation): Promise<void> | undefined {
  // A HEAD response sends no body: Hono answers it from the GET route and drops that body unread, so a
  // watch on it would never end (one scope left open per HEAD request).
  if (c.req.raw.method === 'HEAD') {
    cancelBody(c)
    operation.closed(true)
    return undefined
  }
  const body = c.finalized ? c.res.body : null
  if (!(body instanceof ReadableStream)) {
    operation.closed(true)
    return undefined
  }
  const { headers } = c.res
  // Left as the handler framed it: an encoded body (some runtimes, Workers among them, encode it themselves
  // and would find a length that is not theirs), or one whose framing the handler chose.
  if (headers.has('content-encoding') || headers.has('transfer-encoding')) {
    replaceResponse(c, new Response(watched(started(body), (finished) => operation.closed(finished)), c.res))
    return undefined
  }
  return readAhead(body as ReadableStream<Uint8Array>).then(
    (start) => answer(c, operation, start),
    (error: unknown) => {
      operation.closed(true)
      throw error
    },
  )
}

// A whole body goes out as bytes: the runtime sends it with a length (and not chunked), and nothing is left
// to watch. Any other is watched to its end.
function answer(c: Context, operation: HttpOperation, start: BodyStart): void {
  const response = c.res
  try {
    if (!start.ended) {
      replaceResponse(c, new Response(watched(start, (finished) => operation.closed(finished)), response))
      return
    }
    const bytes = joined(start.chunks)
    const headers = new Headers(response.headers)
    // The length of the bytes at hand, also over one the handler set: a wrong one would cut the body short or
    // leave the client waiting.
    headers.set('content-length', String(bytes.byteLength))
    replaceResponse(c, new Response(bytes, { status: response.status, statusText: response.statusText, headers }))
  } catch (error) {
    operation.closed(true)
    throw error
  }
  operation.closed(true)
}

// Assigned over a response, `c.res` makes yet another copy of the new one (its body a stream again) and takes
// every header of the old one: cleared first.
function replaceResponse(c: Context, response: Response): void {
  c.res = undefined
  c.res = response
}

// A body not read ahead, as `watched` takes it.
function started(body: ReadableStream<Uint8Array>): BodyStart {
  return { reader: body.getReader(), chunks: [], ended: false, pending: undefined }
}

function joined(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]!
  const bytes = new Uint8Array(chunks.reduce((size, chunk) => size + chunk.byteLength, 0))
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.byteLength
  }
  return bytes
}

/**
 * Cancels the body of a response nobody will read (a HEAD request's, answered from the GET route): a streamed
 * body's producer stops (Hono's `onAbort`) instead of waiting for good on a write nobody reads.
 */
export function cancelBody(c: Context): void {
  const body = c.finalized ? c.res.body : null
  if (body instanceof ReadableStream) void body.cancel().catch(() => undefined)
}
