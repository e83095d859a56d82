import { runConformanceSuite } from '@lifeguard/http-conformance'
import { honoDriver } from './_helpers/driver.js'

// An application that loads Hono with `require` gets its CommonJS build: a second copy of Hono's classes,
// which the middleware must work with as well as with the ESM build.
runConformanceSuite(honoDriver('hono (CommonJS build)', 'cjs'))
