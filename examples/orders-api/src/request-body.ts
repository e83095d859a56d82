import { finished, type Readable } from 'node:stream'
import { BODY_TOO_LARGE, INVALID_JSON, MAX_BODY_BYTES, NOT_JSON, RequestError } from './problems.js'

// The JSON body rules of `POST /orders`, the same code on every framework, so that each answers a body alike
// (Express's own `express.json()` differed from the others on compressed bodies, a byte-order mark and empty
// chunked bodies).

const jsonType = /^application\/json\s*(;|$)/i
const otherCharset = /;\s*charset\s*=\s*"?(?!utf-8\b)[^";]+/i

/**
 * Checks that a request body is declared as UTF-8 JSON, sent as it is (no `content-encoding` but `identity`).
 *
 * @throws {RequestError} 415 `unsupported_media_type` for a missing or other content type or charset, or an encoding
 */
export function requireJson(contentType: string | undefined, contentEncoding?: string): void {
  const encoded = contentEncoding !== undefined && contentEncoding.trim().toLowerCase() !== 'identity' && contentEncoding.trim() !== ''
  if (contentType === undefined || !jsonType.test(contentType) || otherCharset.test(contentType) || encoded) {
    throw new RequestError(415, 'unsupported_media_type', NOT_JSON)
  }
}

/**
 * Parses a JSON body; the detail never quotes the body.
 *
 * @throws {RequestError} 400 `invalid_json`
 */
export function parseJson(text: string): unknown {
  try {
    // A byte-order mark is no part of the JSON text (RFC 8259 lets a parser ignore it).
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text)
  } catch {
    throw new RequestError(400, 'invalid_json', INVALID_JSON)
  }
}

/** The 413 for a body above `MAX_BODY_BYTES`. */
export function bodyTooLarge(): RequestError {
  return new RequestError(413, 'body_too_large', BODY_TOO_LARGE)
}

// Fatal: bytes that are not UTF-8 would otherwise become U+FFFD and be stored as if the client had sent that.
const utf8 = new TextDecoder('utf-8', { fatal: true })

// A body refused part-way is read off to its end before the 413 goes out, as Express's body parser does: a
// connection closed under a client still sending makes it fail with EPIPE or a reset, often before it has read
// the answer. Up to this much more, for this long; then the connection is closed all the same.
const DISCARD_LIMIT_BYTES = 10 * MAX_BODY_BYTES
const DISCARD_LIMIT_MILLIS = 5_000

/**
 * Reads a request body of at most `MAX_BODY_BYTES` as UTF-8: refused from its `content-length` before
 * reading, or as soon as more arrives (the rest read off and dropped first, within limits).
 *
 * @throws {RequestError} 413 `body_too_large`, 400 `invalid_json` for bytes that are not UTF-8 (JSON text is)
 */
export async function readBody(request: Readable & { headers: Record<string, string | string[] | undefined> }): Promise<string> {
  const declared = Number(request.headers['content-length'])
  if (declared > MAX_BODY_BYTES) throw bodyTooLarge()
  const chunks: Buffer[] = []
  let size = 0
  // Not destroyed when the loop is left early: the rest is read off once the loop has let go of the stream.
  for await (const chunk of request.iterator({ destroyOnReturn: false })) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
    size += bytes.length
    if (size > MAX_BODY_BYTES) break
    chunks.push(bytes)
  }
  if (size > MAX_BODY_BYTES) {
    await discardRest(request)
    throw bodyTooLarge()
  }
  return decodeBody(Buffer.concat(chunks))
}

// Reads the rest of a request and drops it; settles at its end (or its failure), or destroys it past the limits.
function discardRest(request: Readable): Promise<void> {
  return new Promise((resolve) => {
    let discarded = 0
    const stop = (): void => {
      clearTimeout(timer)
      request.off('data', drop)
      request.destroy()
    }
    const drop = (chunk: Buffer): void => {
      discarded += chunk.length
      if (discarded > DISCARD_LIMIT_BYTES) stop()
    }
    const timer = setTimeout(stop, DISCARD_LIMIT_MILLIS)
    timer.unref()
    finished(request, () => {
      clearTimeout(timer)
      request.off('data', drop)
      resolve()
    })
    request.on('data', drop)
    request.resume()
  })
}

/**
 * A body's bytes as text: UTF-8, as JSON text is.
 *
 * @throws {RequestError} 400 `invalid_json` for bytes that are not UTF-8
 */
export function decodeBody(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes)
  } catch {
    throw new RequestError(400, 'invalid_json', INVALID_JSON)
  }
}
