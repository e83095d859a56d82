import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { holdRequest, type HeldRequest } from './_helpers/held-request.js'
import { adminQuery, exitWithin, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// A shutdown held by a request that waits in PostgreSQL, with a drain timeout far beyond the test: only a second
// signal can end it early.
const schema = scratchName('orders_force')
const appName = schema.replaceAll('_', '-')
const env = { DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined, SHUTDOWN_TIMEOUT_MILLIS: '600000' }
let service: ServiceProcess | undefined
let held: HeldRequest | undefined

const Force = suite('orders-api forced shutdown')

Force.after.each(async () => {
  await service?.stop('SIGKILL')
  await held?.release()
  service = undefined
  held = undefined
})

Force.after(async () => {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

Force('a second SIGTERM, once the shutdown has run a moment, stops at once: one line says so, exit 1', async () => {
  service = await startService(env)
  held = await holdRequest(service.url, schema, appName)
  service.child.kill('SIGTERM')
  await service.waitFor(/SIGTERM received: shutting down/, 5_000)
  // The service says when a repeat no longer counts as a copy of the first signal.
  await service.waitFor(/press Ctrl-C again \(or send another SIGTERM\) to stop at once/, 5_000)
  assert.is(service.child.exitCode, null, 'the request holds the drain')

  service.child.kill('SIGTERM')
  // Before, the repeat was ignored and the drain went on for SHUTDOWN_TIMEOUT_MILLIS.
  assert.equal(await exitWithin(service.exited, 5_000), { code: 1, signal: null }, service.output())
  assert.match(service.output(), 'SIGTERM received while shutting down: shutdown forced, cutting off 1 request(s) in flight; exiting 1')
  assert.not.match(service.output(), 'stopped cleanly')
  assert.instance(await held.outcome, Error, 'the request was cut off')
  await held.release()
  assert.is(await waitForConnectionCount(appName, 0), 0, 'no session of the service is left')
})

Force('a copy of the signal right behind it (a Ctrl-C relayed as well as delivered) is ignored: the drain goes on and ends cleanly', async () => {
  service = await startService(env)
  held = await holdRequest(service.url, schema, appName)
  service.child.kill('SIGINT')
  // Once the first is taken (two sent back to back would merge into one pending signal), as npm's relay comes.
  await service.waitFor(/SIGINT received: shutting down/, 5_000)
  service.child.kill('SIGINT')
  // Past the grace and still draining: the copy did not force anything.
  await service.waitFor(/press Ctrl-C again/, 5_000)
  assert.is(service.child.exitCode, null, 'still draining')
  await held.release()
  assert.equal(await held.outcome.then((outcome) => (outcome instanceof Error ? outcome.message : outcome.status)), 200, 'the request completed')
  assert.equal(await exitWithin(service.exited, 10_000), { code: 0, signal: null }, service.output())
  assert.is(service.output().split('SIGINT received').length - 1, 1, 'one shutdown')
  assert.not.match(service.output(), 'forced')
})

Force.run()
