// The paths the service serves and the methods each takes, the same on Express, Koa and Hono. A request for
// one of these paths with another method is answered 405 with `Allow` (RFC 9110, 15.5.6), not 404: the
// resource is there, the method is wrong.
const ROUTES: ReadonlyArray<{ path: RegExp; methods: readonly string[] }> = [
  { path: /^\/health\/?$/, methods: ['GET', 'HEAD'] },
  { path: /^\/metrics(\/pools)?\/?$/, methods: ['GET', 'HEAD'] },
  { path: /^\/orders\/?$/, methods: ['GET', 'HEAD', 'POST'] },
  { path: /^\/orders\/[^/]+\/?$/, methods: ['GET', 'HEAD'] },
]

/** The methods the service takes on `path` (letter case ignored, as the routers do), or none. */
export function allowedMethods(path: string): readonly string[] {
  const lower = path.toLowerCase()
  return ROUTES.find((route) => route.path.test(lower))?.methods ?? []
}
