import type { OperationContext } from '@lifeguard/core'

/**
 * Names the operation once the route is known. The middleware creates the context before the framework
 * has routed the request, so it starts as `METHOD path` and becomes `METHOD route-pattern` here. A plain
 * field write keeps the context's shape (an accessor would send it to dictionary mode on every request).
 */
export function nameOperation(context: OperationContext, operation: string): void {
  if (context.operation !== operation) (context as { operation: string }).operation = operation
}

/** The request path without its query string. */
export function pathOf(url: string | undefined): string {
  if (url === undefined) return '/'
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
}
