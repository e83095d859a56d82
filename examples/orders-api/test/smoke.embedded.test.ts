import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually, isRefused, request, sampleOrder } from './_helpers/http.js'
import { startService, type ServiceProcess } from './_helpers/service-process.js'

// The default of `npm start` on a fresh machine: no DATABASE_URL, so the service runs its own PostgreSQL.
let service: ServiceProcess | undefined

const Embedded = suite('orders-api without DATABASE_URL (embedded PostgreSQL)')

Embedded.after(async () => {
  await service?.stop('SIGKILL')
})

Embedded('starts its own PostgreSQL, serves orders on it, and stops it on SIGTERM', async () => {
  // Generous: the first start on a machine reads the PostgreSQL binaries from a cold disk.
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-test' }, { timeoutMillis: 90_000 })
  const output = service.output()
  assert.match(output, 'DATABASE_URL is not set: starting an embedded PostgreSQL')
  const target = /embedded PostgreSQL ready at (postgres:\/\/postgres@127\.0\.0\.1:(\d+)\/orders)/.exec(output)
  assert.ok(target !== null, 'the log names where the embedded server listens')
  const databaseUrl = `http://127.0.0.1:${target[2]}`

  const health = await request(`${service.url}/health`)
  assert.is(health.status, 200)
  assert.is(health.body.pools.orders.target, target[1])
  const created = await request(`${service.url}/orders`, { method: 'POST', body: sampleOrder })
  assert.is(created.status, 201)
  const read = await request(`${service.url}/orders/${created.body.id}`)
  assert.is(read.status, 200)
  assert.is(read.body.totalCents, 1200)

  const exit = await service.stop('SIGTERM')
  assert.equal(exit, { code: 0, signal: null })
  assert.match(service.output(), 'stopped cleanly')
  assert.ok(await eventually(() => isRefused(databaseUrl)), 'the embedded PostgreSQL is stopped with the service')
  assert.not.match(service.output(), /postgres:\/\/postgres:[^@\s]+@/, 'the generated password never appears in the log')
})

Embedded.run()
