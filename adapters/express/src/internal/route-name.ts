import type { Request } from 'express'

/** What the name needs of Express's `req.route`. */
export interface RouteLike {
  path?: unknown
}

/**
 * METHOD base-url route-pattern, right at any time. Leaving a router (an error on its way to an error handler
 * above it), Express puts back the `req.baseUrl` and `req.url` it had when it entered, but leaves `req.route`:
 * the router's mount path is then back at the front of `req.url`, and is taken from there.
 */
export function routeName(req: Request, method: string, route: RouteLike): string {
  const pattern = route.path
  const left = typeof pattern === 'string' ? mountPathLeft(req.url, pattern) : ''
  return `${method} ${req.baseUrl}${left}${String(pattern)}`
}

const SLASH = 47
// Patterns whose segments do not each match exactly one segment of the path (wildcards, optional groups).
const unevenSegments = /[*{}()[\]?+!\\]/

/**
 * The part of `url`'s path in front of what `pattern` matched: '' while the request is in the route's own
 * router (Express has taken the mount paths off `req.url`), the mount path of each router it has left since
 * (`/api`, `/t/acme`). Counted in segments from the end; '' where the pattern does not tell how many it matched.
 */
export function mountPathLeft(url: string, pattern: string): string {
  if (unevenSegments.test(pattern)) return ''
  // An absolute-form request target (`http://host/path`) keeps its scheme and host in `req.url`.
  const start = url.charCodeAt(0) === SLASH ? 0 : url.indexOf('/', url.indexOf('//') + 2)
  if (start === -1) return ''
  let end = url.indexOf('?')
  if (end === -1) end = url.length
  // Routing is not strict by default: a trailing slash belongs to the route's match.
  if (end > start && url.charCodeAt(end - 1) === SLASH) end--
  // A trailing slash of the pattern adds no segment.
  let segments = 0
  for (let i = pattern.length - 2; i >= 0; i--) if (pattern.charCodeAt(i) === SLASH) segments++
  for (; segments > 0; segments--) {
    end = url.lastIndexOf('/', end - 1)
    if (end < start) return ''
  }
  return url.slice(start, end)
}
