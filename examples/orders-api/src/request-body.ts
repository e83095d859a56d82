import { BODY_TOO_LARGE, INVALID_JSON, MAX_BODY_BYTES, NOT_JSON, RequestError } from './problems.js'

// The JSON body rules of `POST /orders`, the same on every framework: Express's `express.json()` applies
// them there (its errors map to the same problems); Koa and Hono use these.

const jsonType = /^application\/json\s*(;|$)/i
const otherCharset = /;\s*charset\s*=\s*"?(?!utf-8\b)[^";]+/i

/**
 * Checks that a request body is declared as UTF-8 JSON.
 *
 * @throws {RequestError} 415 `unsupported_media_type` for a missing or other content type or charset
 */
export function requireJson(contentType: string | undefined): void {
  if (contentType === undefined || !jsonType.test(contentType) || otherCharset.test(contentType)) {
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
    return JSON.parse(text)
  } catch {
    throw new RequestError(400, 'invalid_json', INVALID_JSON)
  }
}

/** The 413 for a body above `MAX_BODY_BYTES`. */
export function bodyTooLarge(): RequestError {
  return new RequestError(413, 'body_too_large', BODY_TOO_LARGE)
}

/**
 * Reads a request body of at most `MAX_BODY_BYTES` as UTF-8: refused from its `content-length` before
 * reading, or as soon as more arrives.
 *
 * @throws {RequestError} 413 `body_too_large`
 */
export async function readBody(request: NodeJS.ReadableStream & { headers: Record<string, string | string[] | undefined> }): Promise<string> {
  const declared = Number(request.headers['content-length'])
  if (declared > MAX_BODY_BYTES) throw bodyTooLarge()
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request) {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk)
    size += bytes.length
    if (size > MAX_BODY_BYTES) throw bodyTooLarge()
    chunks.push(bytes)
  }
  return Buffer.concat(chunks).toString('utf8')
}
