import { InvalidOptionError } from '../errors.js'
import { validateOptions, type OptionRule, type OptionRules } from '../options.js'
import { containerRule, type ServiceContainer } from '../service-container.js'
import { requestIdGenerator } from './request-id.js'
import { isPrintableId, printableNameRule } from '../operation-options.js'

/**
 * The options every Lifeguard HTTP middleware takes. `Input` is what the framework hands a handler
 * (Express's `req`, Koa's `ctx`, Hono's `c`); an adapter adds its own options beside these.
 */
export interface HttpMiddlewareOptions<Input> {
  /** The service container; every request gets its own scope from it. */
  container: ServiceContainer<any>
  /** The context's `handler`, e.g. the service's name. Default `'http'`. */
  handlerName?: string | undefined
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`METHOD path` when no route matched). Keep names low-cardinality: they become metric attributes. One
   * that throws or returns anything but a non-empty string or `undefined` is reported to the container's
   * `onError` (an `InvalidOptionError` naming `operationName`), and the request keeps its default name.
   */
  operationName?: ((input: Input) => string | undefined) | undefined
  /** Header that carries the request id in and out. Default `'x-request-id'`. */
  requestIdHeader?: string | undefined
  /** Abort the context's `signal` this many ms after `lifeguard()` took the request (after any middleware above it). */
  deadlineMillis?: number | undefined
}

/** The shared options once checked, with their defaults. */
export interface HttpMiddlewareSettings<Input> {
  /** The service container; every request gets its own scope from it. */
  readonly container: ServiceContainer<any>
  /** The context's `handler`: the option given, else `'http'`. */
  readonly handlerName: string
  /** The user's `operationName`, made safe: a failure is reported and gives `undefined` (the default name). */
  readonly operationName: ((input: Input) => string | undefined) | undefined
  /** The request id header, lower-case (how Node.js keys incoming headers). */
  readonly requestIdHeader: string
  /** Aborts the context's `signal` this many ms after the middleware took the request; undefined: no deadline. */
  readonly deadlineMillis: number | undefined
  /** Makes the id of a request that brought none (see `requestIdGenerator()`). */
  readonly newRequestId: () => string
  /** Sends a failure that has no caller (a disposer that threw) to the container's `onError`. */
  readonly reportError: (error: unknown) => void
}

const headerToken = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/
// Headers that say how the message is framed or routed, or what the response is (its body, its caching, where
// it points, cookies, authentication): an id written into one breaks or changes the response (on Express, a
// `content-type` of an id fails every `res.send`; `content-encoding` tells the client to decode it). Every
// `content-*` one too: they describe the body, and a 503 that replaces the body drops them. The hop-by-hop
// ones: Node's HTTP/2 refuses a response that carries one. And the ones a browser or a proxy acts on (CORS, HSTS,
// framing, sniffing, a timed redirect, preloads, where reports go, nginx's internal redirect): the id comes from
// the client, who would set them (`Access-Control-Allow-Origin: null`, `Refresh: 0`, `X-Accel-Redirect: /internal`).
const reservedHeaders = new Set([
  'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'http2-settings', 'host', 'te', 'trailer', 'upgrade',
  'cache-control', 'expires', 'etag', 'last-modified', 'vary', 'age', 'date',
  'location', 'refresh', 'set-cookie', 'www-authenticate', 'proxy-authenticate', 'retry-after', 'allow', 'server',
  'cookie', 'authorization', 'proxy-authorization',
  'strict-transport-security', 'x-frame-options', 'x-content-type-options', 'x-xss-protection', 'referrer-policy',
  'permissions-policy', 'feature-policy', 'timing-allow-origin', 'link', 'alt-svc', 'clear-site-data', 'report-to', 'reporting-endpoints', 'nel',
  // What a proxy in front acts on: it would serve an internal location or a file the client named.
  'x-sendfile', 'x-lighttpd-send-file',
])
const reservedPrefixes = ['content-', 'access-control-', 'cross-origin-', 'x-accel-']

function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase()
  return reservedHeaders.has(lower) || reservedPrefixes.some((prefix) => lower.startsWith(prefix))
}

/** The rules of {@link HttpMiddlewareOptions}. */
export const httpMiddlewareRules: OptionRules<HttpMiddlewareOptions<unknown>> = {
  container: containerRule,
  // As `OperationContext.create` checks it: it goes into logs, events and metric attributes as it is.
  handlerName: { ...printableNameRule, optional: true },
  operationName: { type: 'function', optional: true },
  requestIdHeader: {
    type: 'custom',
    expected: "an HTTP header name of up to 64 characters, not one that frames or describes the message or that a browser or proxy acts on (content-*, connection, cache-control, set-cookie, access-control-*, strict-transport-security, x-accel-*, ...)",
    check: (value: unknown) => typeof value === 'string' && value.length <= 64 && headerToken.test(value) && !isReservedHeader(value),
    optional: true,
  },
  deadlineMillis: { type: 'duration', min: 1, optional: true },
}

/**
 * Checks a middleware's options (the shared ones and the adapter's own `extraRules`; unknown keys are
 * refused) and gives the shared ones their defaults: handler `'http'`, header `'x-request-id'`.
 *
 * @throws {InvalidOptionError} naming the option, the value and the allowed range
 * @example
 * const settings = httpMiddlewareSettings<Request>(options, { abortGraceMillis: { type: 'duration', optional: true } })
 */
export function httpMiddlewareSettings<Input>(
  options: HttpMiddlewareOptions<Input>,
  extraRules: Readonly<Record<string, OptionRule>> = {},
  where = 'lifeguard',
): HttpMiddlewareSettings<Input> {
  const rules = { ...httpMiddlewareRules, ...extraRules } as OptionRules<HttpMiddlewareOptions<Input>>
  validateOptions(where, options, rules)
  const { container } = options
  const reportError = (error: unknown): void => container.reportError(error)
  return {
    container,
    handlerName: options.handlerName ?? 'http',
    operationName: options.operationName === undefined ? undefined : reportedNamer(options.operationName, reportError),
    requestIdHeader: (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    deadlineMillis: options.deadlineMillis,
    newRequestId: requestIdGenerator(),
    reportError,
  }
}

// A request is answered whatever the user's `operationName` does: thrown from the middleware it answered
// 500 (or, once the chain had started, under a running handler), and from a `'close'` listener it ended
// the process. An adapter may ask more than once a request (Express and Koa: on every read of the name until
// the request is routed, and again once it is); each request's failure is reported once.
function reportedNamer<Input>(operationName: (input: Input) => string | undefined, report: (error: unknown) => void): (input: Input) => string | undefined {
  const reportedFor = new WeakSet<object>()
  const reportOnce = (input: Input, why: string): undefined => {
    const key = input as object
    const known = typeof key === 'object' && key !== null
    if (known && reportedFor.has(key)) return undefined
    if (known) reportedFor.add(key)
    report(nameFailed(why))
    return undefined
  }
  return (input) => {
    let name: unknown
    try {
      name = operationName(input)
    } catch (error) {
      return reportOnce(input, `It said: ${error instanceof Error ? error.message : String(error)}`)
    }
    if (name === undefined || isPrintableId(name)) return name as string | undefined
    // It goes into logs, events and metric attributes as it is (a name built from a header or a path could
    // carry a line break): bounded and printable, as the names given at creation.
    if (typeof name === 'string' && name !== '') return reportOnce(input, `It returned ${name.length > 256 ? `a name of ${name.length} characters (at most 256)` : 'a name with control, separator, bidi or zero-width characters'}.`)
    // Described by its type only: a value without a working `toString` must not make this throw.
    const type = typeof name
    return reportOnce(input, `It returned ${name === '' ? 'an empty string' : name === null ? 'null' : `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`}.`)
  }
}

function nameFailed(why: string): InvalidOptionError {
  return new InvalidOptionError('operationName', 'a function returning undefined or a name of 1 to 256 characters without control, line-break, bidi or zero-width characters', `\`operationName\` failed, and the operation gets its default name. ${why}`)
}
