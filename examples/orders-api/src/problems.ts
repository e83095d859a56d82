import { STATUS_CODES } from 'node:http'
import { poolPressureCode } from '@lifeguard/core/http'
import { allowedMethods } from './routes.js'

// Every error response of the service, whatever the framework, is one RFC 9457 problem details object
// (`application/problem+json`), so a client handles errors one way. This file decides what each failure
// becomes; the frameworks only write it.

/** The body of every error response (RFC 9457), with two extension members: `code` and `requestId`. */
export interface Problem {
  /** `about:blank`: the status says what kind of problem it is, `code` says which. */
  type: 'about:blank'
  /** The HTTP status phrase, as RFC 9457 asks for `about:blank`. */
  title: string
  status: number
  /** What went wrong, for a human; names the bad field or parameter and what is accepted. */
  detail: string
  /** Stable and machine-readable: `invalid_order`, `invalid_json`, `invalid_id`, ... */
  code: string
  /** The request's `x-request-id`, for reporting a problem. */
  requestId?: string
}

/** The media type of error responses. */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

/** A request the service refuses: the status, the code and the detail to answer with. */
export class RequestError extends Error {
  override readonly name: string = 'RequestError'
  readonly status: number
  readonly code: string
  /** Headers the answer carries besides the problem's own (`Allow` on a 405). */
  readonly headers: Record<string, string>

  constructor(status: number, code: string, detail: string, headers: Record<string, string> = {}) {
    super(detail)
    this.status = status
    this.code = code
    this.headers = headers
  }
}

/** What an error becomes on the wire. */
export interface ProblemResponse {
  problem: Problem
  headers: Record<string, string>
  /** True for a failure the service did not expect (a 500): log it, the client only gets a generic detail. */
  unexpected: boolean
}

/** The 404 for a path no route serves, or the 405 (with `Allow`) for a method its route does not take. */
export function routeNotFound(method: string, path: string): RequestError {
  const shown = path.length > 100 ? `${path.slice(0, 97)}...` : path
  const allowed = allowedMethods(path)
  if (allowed.length > 0 && !allowed.includes(method)) {
    return new RequestError(405, 'method_not_allowed', `${shown} takes ${allowed.join(', ')}, not ${method}.`, { Allow: allowed.join(', ') })
  }
  return new RequestError(404, 'route_not_found', `No route for ${method} ${shown}.`)
}

/**
 * Turns any error into a problem response: a `RequestError` as it says; a body parser's error (Express)
 * by its `type`; a body the client cut off into a 400; pool pressure and a lost database connection into a 503
 * with `Retry-After`; an aborted operation into a 503; anything else into a 500 whose detail says nothing about
 * the internals.
 */
export function problemFrom(error: unknown, requestId: string | undefined): ProblemResponse {
  const respond = (status: number, code: string, detail: string, headers: Record<string, string> = {}): ProblemResponse => ({
    problem: { type: 'about:blank', title: STATUS_CODES[status] ?? 'Error', status, detail, code, ...(requestId === undefined ? {} : { requestId }) },
    // A body too large is not read to its end, so the connection cannot carry another request: say so
    // (RFC 9112, 9.6), or a keep-alive client may send its next request on a socket the server then closes.
    headers: status === 413 ? { ...headers, Connection: 'close' } : headers,
    unexpected: status >= 500 && status !== 503,
  })
  if (error instanceof RequestError) return respond(error.status, error.code, error.message, error.headers)
  if (inCauseChain(error, isBodyCutOff)) return respond(400, 'request_aborted', REQUEST_ABORTED)
  const parserError = bodyParserProblem(error)
  if (parserError !== undefined) return respond(...parserError)
  // A wait that ran out while every attempt to open a connection failed (its cause is the last one's error):
  // the database is out of reach, the service is not busy.
  if (inCauseChain(error, (e) => e.code === 'ERR_POOL_TIMEOUT' && isConnectFailure((e as { cause?: unknown }).cause))) {
    return respond(503, 'database_unavailable', 'The database cannot be reached. Retry later.', { 'Retry-After': '1' })
  }
  // Matched by code through the cause chain: a service factory may wrap the pool's error.
  if (poolPressureCode(error) !== undefined) return respond(503, 'service_busy', 'The service is busy. Retry later.', { 'Retry-After': '1' })
  // The service is shutting down and has closed its pools under a request the drain cut off (its time ran out):
  // its client is gone, so this answer is for the log. Not a failure of the service.
  if (inCauseChain(error, (e) => e.code === 'ERR_POOL_CLOSED')) return respond(503, 'shutting_down', 'The service is shutting down. Retry later.', { 'Retry-After': '1', Connection: 'close' })
  // The server restarted or ended the session under the request: nothing is wrong with the service, and the
  // pool opens a new connection for the next one. Whether a write took effect is for the client to check.
  if (inCauseChain(error, (e) => e.code === 'ERR_CONNECTION_LOST')) return respond(503, 'connection_lost', 'The database connection was lost. Retry later.', { 'Retry-After': '1' })
  // The client went away (or the operation's deadline passed) while the request waited: in the first case
  // nobody reads the answer, and neither is a failure of the service.
  if (inCauseChain(error, (e) => e.code === 'ERR_OPERATION_ABORTED')) return respond(503, 'operation_aborted', 'The request was cancelled before it completed.')
  return respond(500, 'internal', 'Something went wrong; the log has the details.')
}

// Looked for through the cause chain and by `code`, as poolPressureCode does: a service factory may wrap the
// error, and two installed copies of core still match.
function inCauseChain(error: unknown, test: (error: { code?: unknown; message?: unknown; type?: unknown }) => boolean): boolean {
  let current = error
  for (let depth = 0; depth < 5 && typeof current === 'object' && current !== null; depth++) {
    if (test(current)) return true
    current = (current as { cause?: unknown }).cause
  }
  return false
}

// A connect that failed: refused, unreachable, or the server's own refusal (PostgreSQL's class 08, 57P0x).
function isConnectFailure(error: unknown): boolean {
  const code = (error as { code?: unknown } | undefined)?.code
  return typeof code === 'string' && (/^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|ETIMEDOUT|EAI_AGAIN)$/.test(code) || /^(08|57P0)/.test(code) || code === 'ERR_POSTGRES_CONNECT')
}

// The body stopped half-way because the client closed the connection: Node's request stream fails with
// `aborted` (Koa and Hono read it themselves), body-parser says `request.aborted` (Express).
const isBodyCutOff = (error: { code?: unknown; message?: unknown; type?: unknown }): boolean =>
  error.type === 'request.aborted' || (error.code === 'ECONNRESET' && error.message === 'aborted')

// The errors of Express's `express.json()` (body-parser) carry a `type`; the same cases are RequestErrors in
// the Koa and Hono variants, with the same codes and details.
function bodyParserProblem(error: unknown): [number, string, string] | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { type, status } = error as { type?: unknown; status?: unknown }
  switch (type) {
    case 'entity.parse.failed':
      return [400, 'invalid_json', INVALID_JSON]
    case 'entity.too.large':
      return [413, 'body_too_large', BODY_TOO_LARGE]
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return [415, 'unsupported_media_type', NOT_JSON]
    default:
      // Other client errors of Express's stack carry a 4xx `status` (a body that does not decompress, a path
      // with a bad `%` escape), some without a `type`. Their message is shown only when marked for clients.
      if (typeof status !== 'number' || status < 400 || status >= 500) return undefined
      return [status, 'bad_request', (error as { expose?: unknown }).expose === true ? (error as Error).message : `${STATUS_CODES[status] ?? 'Bad request'}.`]
  }
}

/** Largest request body accepted (the same on every framework). */
export const MAX_BODY_BYTES = 100 * 1024

/** Details shared by the three frameworks, so they answer alike. */
export const INVALID_JSON = 'The request body is not valid JSON.'
export const BODY_TOO_LARGE = `The request body is larger than ${MAX_BODY_BYTES / 1024} kB.`
export const REQUEST_ABORTED = 'The request was cut off before its body was complete.'
export const NOT_JSON = 'Send the request body as JSON, with `content-type: application/json` (UTF-8), without `content-encoding`.'
