import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { request, sampleOrder } from './_helpers/http.js'
import { adminQuery, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// The Koa and Hono variants share everything but the app: one pass over the same routes each.
for (const framework of ['koa', 'hono']) {
  const schema = scratchName(`orders_${framework}`)
  const appName = schema.replaceAll('_', '-')
  let service: ServiceProcess | undefined

  const Variant = suite(`orders-api on ${framework}`)

  Variant.after(async () => {
    await service?.stop('SIGKILL')
    await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  })

  Variant('serves the same routes and shuts down cleanly on SIGTERM', async () => {
    service = await startService({ DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined, OTEL_SERVICE_NAME: `orders-${framework}` }, { entry: `src/${framework}.ts` })
    assert.match(service.output(), `(${framework};`)

    const health = await request(`${service.url}/health`)
    assert.is(health.status, 200)
    assert.is(health.body.pools.orders.state, 'ready')

    const created = await request(`${service.url}/orders`, { method: 'POST', body: sampleOrder })
    assert.is(created.status, 201)
    assert.is(created.headers.get('location'), `/orders/${created.body.id}`)
    assert.ok(created.headers.get('x-request-id'), 'the request id is echoed')
    const read = await request(`${service.url}/orders/${created.body.id}`)
    assert.is(read.status, 200)
    assert.is(read.body.customer, 'ada')
    assert.is((await request(`${service.url}/orders/999999999`)).status, 404)
    assert.is((await request(`${service.url}/orders`, { method: 'POST', body: { customer: '' } })).status, 400)

    const pools = await request(`${service.url}/metrics/pools`)
    assert.equal(Object.keys(pools.body), ['orders'])
    assert.ok(pools.body.orders.useTime.count > 0)
    const exposition = await (await fetch(`${service.url}/metrics`)).text()
    assert.match(exposition, 'db_client_connection_count{db_client_connection_pool_name="orders"')
    assert.match(exposition, new RegExp(`^target_info\\{.*service_name="orders-${framework}"`, 'm'), 'OTEL_SERVICE_NAME names the service')

    const exit = await service.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null })
    assert.is(await waitForConnectionCount(appName, 0), 0)
  })

  Variant.run()
}
