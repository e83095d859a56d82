import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { holdRequest, type HeldRequest } from './_helpers/held-request.js'
import { adminQuery, exitWithin, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// A request that outlasts SHUTDOWN_TIMEOUT_MILLIS: the drain cuts it off, and the shutdown must say it failed.
const schema = scratchName('orders_cut_off')
const appName = schema.replaceAll('_', '-')
let service: ServiceProcess | undefined
let held: HeldRequest | undefined

const CutOff = suite('orders-api drain timeout')

CutOff.after(async () => {
  await service?.stop('SIGKILL')
  await held?.release()
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

CutOff('a request cut off by the drain timeout fails the shutdown: the log says how many, exit 1', async () => {
  service = await startService({ DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined, SHUTDOWN_TIMEOUT_MILLIS: '1000' })
  held = await holdRequest(service.url, schema, appName)
  service.child.kill('SIGTERM')
  // Bounded by the service's own deadline (twice the timeout plus 5 s); the lock is held throughout.
  const exit = await exitWithin(service.exited, 15_000)
  // Before, the cut was logged and the process still exited 0.
  assert.equal(exit, { code: 1, signal: null }, service.output())
  assert.match(service.output(), /shutdown failed: 1 request\(s\) still running after 1000ms were cut off/)
  assert.not.match(service.output(), 'stopped cleanly')
  assert.instance(await held.outcome, Error, 'its client saw the connection cut')
  await held.release()
  assert.is(await waitForConnectionCount(appName, 0), 0, 'no session of the service is left')
})

CutOff.run()
