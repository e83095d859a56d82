import { runConformanceSuite } from '@lifeguard/http-conformance'
import { honoDriver } from './_helpers/driver.js'

// The path for fetch-style runtimes (no Node request or response in `c.env`), held to the same promises on a
// real server: the request's own signal, Hono's header API, and a streamed body watched to its end.
runConformanceSuite(honoDriver('hono (fetch-style runtime)', 'esm', true))
