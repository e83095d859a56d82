import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'

// The part of a Node response used here, alike on HTTP/1 and on HTTP/2's compatibility response.
interface HeaderWritingResponse {
  writeHead(statusCode: number, ...rest: never[]): unknown
  hasHeader(name: string): boolean
  setHeader(name: string, value: string): unknown
  readonly headersSent: boolean
}

type WriteHead = (this: HeaderWritingResponse, statusCode: number, reason?: unknown, headers?: unknown) => unknown

/**
 * Adds `name: value` to a Node response as its headers are written, unless the response carries that header
 * by then (set by the application, in any letter case, before or in `writeHead()`).
 *
 * Why at write time and not at once: a header set first is one more entry for every header call the framework
 * makes before writing (Koa's `has`/`get`/`remove` on each response), and `@hono/node-server`, which passes its
 * headers to `writeHead(status, headers)`, then goes down Node's merge path, where each of its headers is set
 * again. Measured on Node 24: 3.0k instructions a request less on Koa, 3.9k less on Hono. Every way of writing
 * goes through `writeHead()` (Node's `end()`, `write()` and `flushHeaders()` call it when nothing has), error
 * responses included: Koa's error response, which removes every header first, still carries the id.
 *
 * The header is not on the response before it is written (`getHeader()` in a handler does not see it). Not for
 * responses that have a hidden class each (Express's): there the own `writeHead` cost far more than it saved.
 *
 * @param name - the header name, lower-case
 * @param writing - called as the head is written (each `writeHead()` call), before it is: when, tells the
 *   adapter who wrote the response (a handler on the Node response, or the framework after the chain)
 * @example
 * echoHeaderOnWrite(res, settings.requestIdHeader, operation.requestId)
 */
export function echoHeaderOnWrite(nodeResponse: ServerResponse | Http2ServerResponse, name: string, value: string, writing?: () => void): void {
  const response = nodeResponse as unknown as HeaderWritingResponse
  const writeHead = response.writeHead as WriteHead
  // An own property: `end()` and `flushHeaders()` call `this.writeHead`, and wrappers installed later
  // (compression, response timers) wrap this one in turn.
  response.writeHead = function echoingWriteHead(this: HeaderWritingResponse, statusCode: number, reason?: unknown, headers?: unknown) {
    // writeHead(status, headers) as well as writeHead(status, reason, headers), where Node takes a reason that
    // is not a string (`undefined`, `null`) for headers only when no headers follow it.
    const withReason = typeof reason === 'string'
    if (!withReason) {
      headers ??= reason
      reason = undefined
    }
    writing?.()
    if (!this.headersSent && !this.hasHeader(name)) headers = withHeader(this, headers, name, value)
    // Passed on in the caller's form: a wrapper installed before this one may read the headers by position
    // (on-headers, under morgan, compression and response-time, takes the second argument when it is not a
    // string, and dropped every header of `writeHead(status, undefined, headers)`).
    if (withReason) return writeHead.call(this, statusCode, reason, headers)
    return headers === undefined ? writeHead.call(this, statusCode) : writeHead.call(this, statusCode, headers)
  } as HeaderWritingResponse['writeHead']
}

// Headers handed to writeHead() as an object go out as a flat [name, value, ...] list with ours at the end:
// Node writes a list as it is, where a header set on the response beforehand would make it set each one of
// them again. A list given (flat, or [name, value] pairs) gets ours added in its own form: a header set on the
// response would send Node down its merge path, which takes the flat form only. No headers: ours is set on the
// response.
function withHeader(response: HeaderWritingResponse, headers: unknown, name: string, value: string): unknown {
  if (typeof headers !== 'object' || headers === null) {
    response.setHeader(name, value)
    return headers
  }
  if (Array.isArray(headers)) return withListedHeader(headers as unknown[], name, value)
  const given = headers as Record<string, unknown>
  const keys = Object.keys(given)
  const list: unknown[] = []
  for (const key of keys) {
    if (isNamed(key, name)) return headers
    list.push(key, given[key])
  }
  list.push(name, value)
  return list
}

// A copy of the caller's list with ours added, or the list itself when it carries the header already.
function withListedHeader(headers: readonly unknown[], name: string, value: string): unknown[] {
  if (Array.isArray(headers[0])) {
    for (const pair of headers) if (Array.isArray(pair) && isNamed(pair[0], name)) return headers as unknown[]
    return [...headers, [name, value]]
  }
  for (let i = 0; i < headers.length; i += 2) if (isNamed(headers[i], name)) return headers as unknown[]
  return [...headers, name, value]
}

function isNamed(key: unknown, name: string): boolean {
  return typeof key === 'string' && key.length === name.length && key.toLowerCase() === name
}
