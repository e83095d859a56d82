/**
 * The behavioural suite every Lifeguard HTTP adapter runs against itself: a real server on 127.0.0.1,
 * real `fetch`, and the same assertions for Express, Koa and Hono.
 *
 * @packageDocumentation
 */

import type { FrameworkDriver } from './driver.js'
import { boundsSuite } from './suites/bounds.js'
import { contextSuite, customNameSuite, deadlineSuite, failingNameSuite } from './suites/context.js'
import { disposalSuite } from './suites/disposal.js'
import { isolationSuite } from './suites/isolation.js'
import { optionsSuite } from './suites/options.js'
import { poolPressureSuite } from './suites/pool-pressure.js'
import { postgresSuite } from './suites/postgres.js'
import { requestIdSuite } from './suites/request-id.js'

export type { ConformanceOptions, ConformanceRoute, FrameworkDriver, RouteCall, RouteReply, RunningServer } from './driver.js'
export { Harness } from './harness.js'
export { waitFor, delay, aborted, Deferred } from './wait.js'
export { runningServer, namingContainer, operationNames } from './naming.js'
export { outliveTheReset, resetOn, resetProbe, resetDuringHandler, type ResetProbe } from './http2-reset.js'

/**
 * Registers and runs every conformance suite against one framework. The last one needs PostgreSQL
 * (`PGHOST`, `PGPORT`, `PGUSER`, `PGDATABASE`; default `postgres@127.0.0.1:5432/test`).
 *
 * @example
 * runConformanceSuite({ name: 'express', lifeguard, start: startExpress })
 */
export function runConformanceSuite(driver: FrameworkDriver): void {
  optionsSuite(driver)
  contextSuite(driver)
  customNameSuite(driver)
  failingNameSuite(driver)
  requestIdSuite(driver)
  deadlineSuite(driver)
  isolationSuite(driver)
  disposalSuite(driver)
  poolPressureSuite(driver)
  boundsSuite(driver)
  postgresSuite(driver)
}
