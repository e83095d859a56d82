import { runConformanceSuite } from '@lifeguard/http-conformance'
import { expressDriver } from './_helpers/driver.js'

runConformanceSuite(expressDriver)
