/**
 * The operation name of a request: `METHOD pattern` (`GET /orders/:id`), the route pattern when the
 * router has matched, else the path without its query string (`GET /orders/42`).
 *
 * @example
 * operationNameOf(req.method, req.route?.path, req.originalUrl)
 */
export function operationNameOf(method: string, pattern: unknown, url: string | undefined): string {
  if (pattern === undefined) return `${method} ${pathOf(url)}`
  return `${method} ${typeof pattern === 'string' ? pattern : String(pattern)}`
}

// A path no route matched is the client's choice (a scanner's probe): its name is kept short.
const maxPathLength = 200

/**
 * The request path as the client sent it (still percent-encoded), without its query string, its scheme and
 * host (a request line in absolute form, `GET http://host/x`) or what is past 200 characters (`'/'` when there is
 * none). It names operations no route matched, so it never holds what a client could decode into a line break.
 *
 * @example
 * pathOf('/orders/42?expand=items') // '/orders/42'
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/'
  let start = 0
  if (url.charCodeAt(0) !== 47 /* / */) {
    const scheme = url.indexOf('://')
    if (scheme !== -1) start = url.indexOf('/', scheme + 3)
    if (start === -1) return '/'
  }
  const query = url.indexOf('?', start)
  const end = query === -1 ? url.length : query
  return end - start > maxPathLength ? `${url.slice(start, start + maxPathLength)}...` : start === 0 && end === url.length ? url : url.slice(start, end)
}
