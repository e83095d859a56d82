import pg from 'pg'
import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually, isRefused, request, sampleOrder } from './_helpers/http.js'
import { adminQuery, connectionCount, localDatabaseUrl, startService, waitForConnectionCount, type ServiceProcess } from './_helpers/service-process.js'

// The example exactly as `npm start` runs it, as a child process, on the machine's PostgreSQL (fast in CI).
const schema = scratchName('orders_smoke')
const appName = schema.replaceAll('_', '-')
let service: ServiceProcess | undefined

const Smoke = suite('orders-api on Express with DATABASE_URL')

Smoke.before(async () => {
  service = await startService({ DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined })
})

Smoke.after(async () => {
  await service?.stop('SIGKILL')
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

function running(): ServiceProcess {
  if (service === undefined) throw new Error('The service did not start.')
  return service
}

Smoke('prints where it listens and a curl line to try it', () => {
  const output = running().output()
  assert.match(output, /listening on http:\/\/127\.0\.0\.1:\d+ \(express/)
  assert.match(output, /curl -s -X POST http:\/\/127\.0\.0\.1:\d+\/orders -H 'content-type: application\/json' -d '\{"customer"/)
  assert.match(output, /pool 'orders' warm: 2 connection\(s\)/)
})

Smoke('reports every pool ready on /health once it listens', async () => {
  const { status, body } = await request(`${running().url}/health`)
  assert.is(status, 200)
  assert.is(body.status, 'ok')
  assert.equal(Object.keys(body.pools), ['orders'])
  assert.is(body.pools.orders.kind, 'postgres')
  assert.is(body.pools.orders.state, 'ready')
  assert.ok(body.pools.orders.totalConnections >= 2, 'warm-up opened minSize connections before listening')
  assert.not.match(body.pools.orders.target, /:[^/@]*@/, 'no password in the target')
})

Smoke('creates an order with POST /orders and reads it back with GET /orders/:id', async () => {
  const created = await request(`${running().url}/orders`, { method: 'POST', body: sampleOrder })
  assert.is(created.status, 201)
  assert.is(created.body.customer, 'ada')
  assert.is(created.body.totalCents, 2 * 450 + 300)
  assert.is(created.headers.get('location'), `/orders/${created.body.id}`)
  assert.match(created.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/)

  const read = await request(`${running().url}/orders/${created.body.id}`)
  assert.is(read.status, 200)
  assert.equal(read.body, { ...created.body, items: [...created.body.items].sort((a: { sku: string }, b: { sku: string }) => a.sku.localeCompare(b.sku)) })

  const list = await request(`${running().url}/orders?limit=5`)
  assert.is(list.status, 200)
  assert.ok(list.body.some((order: { id: string }) => order.id === created.body.id))
})

Smoke('answers 400 for an invalid order and 404 for an unknown one', async () => {
  const invalid = await request(`${running().url}/orders`, { method: 'POST', body: { customer: 'ada', items: [] } })
  assert.is(invalid.status, 400)
  assert.is(invalid.body.code, 'invalid_order')
  assert.match(invalid.body.detail, '`items`')
  const malformed = await request(`${running().url}/orders`, { method: 'POST', body: '{not json' })
  assert.is(malformed.status, 400)
  const missing = await request(`${running().url}/orders/999999999`)
  assert.is(missing.status, 404)
  assert.is(missing.body.code, 'not_found')
})

Smoke('reports getPoolMetrics() of every pool on /metrics/pools', async () => {
  const { status, body } = await request(`${running().url}/metrics/pools`)
  assert.is(status, 200)
  assert.equal(Object.keys(body), ['orders'])
  const orders = body.orders
  for (const field of ['totalConnections', 'activeConnections', 'idleConnections', 'waitingRequests', 'errors', 'avgResponseTime', 'minSize', 'maxSize', 'timeouts', 'leaks']) {
    assert.type(orders[field], 'number', field)
  }
  assert.is(orders.minSize, 2)
  assert.is(orders.maxSize, 10)
  assert.ok(orders.waitTime.count > 0, 'checkouts were timed')
  assert.ok(!Number.isNaN(Date.parse(orders.created)), 'created is a date')
})

Smoke('exposes the pools in Prometheus format on /metrics', async () => {
  const response = await fetch(`${running().url}/metrics`)
  const text = await response.text()
  assert.is(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', 'text/plain')
  assert.match(text, /db_client_connection_count\{db_client_connection_pool_name="orders",db_client_connection_state="idle"/)
  assert.match(text, /db_client_connection_wait_time_count\{db_client_connection_pool_name="orders"/)
  assert.match(text, /^target_info\{.*service_name="orders-api"/m, 'the resource names the service')
  assert.match(text, /^db_client_connection_timeouts_total\{db_client_connection_pool_name="orders",[^}]*\} 0$/m, 'counters start at 0')
})

Smoke('holds its connections under its own application_name', async () => {
  assert.ok((await connectionCount(appName)) >= 2)
})

Smoke('on SIGTERM stops accepting, finishes the request in flight, closes its pool and exits 0', async () => {
  const current = running()
  const blocker = new pg.Client({ connectionString: localDatabaseUrl, application_name: `${appName}-blocker` })
  await blocker.connect()
  try {
    // Hold the table so that a request is provably in flight (waiting in PostgreSQL) when the signal comes.
    await blocker.query('BEGIN')
    await blocker.query(`LOCK TABLE "${schema}".orders IN ACCESS EXCLUSIVE MODE`)
    const inFlight = request(`${current.url}/orders`)
    const waiting = await eventually(async () => (await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [appName])).length > 0)
    assert.ok(waiting, 'the request reached PostgreSQL and waits on the lock')

    current.child.kill('SIGTERM')
    await current.waitFor(/SIGTERM received/, 5_000)
    assert.ok(await eventually(() => isRefused(current.url)), 'no new connections are accepted')
    assert.is(current.child.exitCode, null, 'still running while a request is in flight')

    await blocker.query('COMMIT')
    const finished = await inFlight
    assert.is(finished.status, 200, 'the in-flight request completed')
    assert.ok(Array.isArray(finished.body))
  } finally {
    await blocker.end()
  }
  const exit = await current.exited
  assert.equal(exit, { code: 0, signal: null })
  assert.match(current.output(), 'stopped cleanly')
  assert.is(await waitForConnectionCount(appName, 0), 0, 'every connection of the service is closed')
})

Smoke.run()
