import { runConformanceSuite } from '@lifeguard/http-conformance'
import { honoDriver } from './_helpers/driver.js'

runConformanceSuite(honoDriver('hono', 'esm'))
