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

/**
 * The request path without its query string (`'/'` when there is none).
 *
 * @example
 * pathOf('/orders/42?expand=items') // '/orders/42'
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/'
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
