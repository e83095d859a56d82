import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually, request } from './_helpers/http.js'
import { adminQuery, connectionCount, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// How the service ends when what surrounds it goes first: the pipe its output goes to, the npm that started it.
const schema = scratchName('orders_edges')
const appName = schema.replaceAll('_', '-')
let service: ServiceProcess | undefined

const Edges = suite('orders-api when its output or its npm is gone')

Edges.after.each(async () => {
  await service?.stop('SIGKILL')
  service = undefined
})

Edges.after(async () => {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

const env = { DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined }

// `npm start | tee log` and Ctrl-C: the terminal's signal ends `tee` too, so the shutdown writes its log
// lines into a pipe nobody reads any more.
Edges('shuts down cleanly on SIGTERM after its stdout reader went away: exit 0, every connection closed', async () => {
  service = await startService(env)
  assert.is((await request(`${service.url}/health`)).status, 200)
  service.child.stdout?.destroy()
  service.child.kill('SIGTERM')
  const exit = await service.exited
  assert.equal(exit, { code: 0, signal: null }, service.output())
  assert.not.match(service.output(), 'EPIPE')
  assert.is(await waitForConnectionCount(appName, 0), 0)
})

Edges("this package's `npm start` killed outright (SIGKILL): the service notices and shuts down, leaving no connection", async () => {
  const started = await startService(env, { npmStart: 'package' })
  service = started
  assert.ok((await connectionCount(appName)) > 0, 'the pool is warm')
  started.child.kill('SIGKILL') // npm: no signal reaches the service, which is re-parented
  // Its output still comes through the pipe npm handed it (`waitFor` gives up once npm has exited).
  assert.ok(await eventually(async () => /stopped cleanly/.test(started.output()), 10_000), started.output())
  assert.match(started.output(), 'npm start is gone: shutting down')
  assert.is(await waitForConnectionCount(appName, 0), 0)
})

Edges.run()
