import { runConformanceSuite } from '@lifeguard/http-conformance'
import { koaDriver } from './_helpers/driver.js'

runConformanceSuite(koaDriver)
