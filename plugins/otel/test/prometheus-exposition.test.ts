import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { createPoolRegistry, createServiceContainer, PoolTimeoutError, runOperation } from '@lifeguard/core'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMetricsEndpoint } from './_helpers/metrics-endpoint.js'
import { pgConfig, terminateBackends, uniqueAppName, waitForServerConnections } from './_helpers/pg.js'
import { prometheusFamilies, prometheusLabels } from './_helpers/prometheus-names.js'
import { promtool } from './_helpers/promtool.js'
import { rejects } from '@lifeguard/test-kit'

const exposition = suite('Prometheus exposition of a real pool')

// The conventions' `db.client.connection.count` becomes `db_client_connection_count`, which Prometheus'
// linter reserves for histograms and summaries; the name is the conventions' and is kept.
const knownLint = /^db_client_connection_count non-histogram and non-summary metrics should not have "_count" suffix$/

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)))
}

exposition('a scrape of every pool metric passes promtool check metrics, with the expected names and labels', async () => {
  const appName = uniqueAppName('otel-prometheus')
  const registry = createPoolRegistry()
  const pool = registry.register(
    createPostgresPool({ name: 'orders', ...pgConfig(), applicationName: appName, minSize: 1, maxSize: 2, acquireTimeoutMillis: 100, leakDetectionMillis: 30 }),
  )
  const metrics = createMetricsEndpoint(registry)
  const server = createServer((request, response) => {
    if (request.url === '/metrics') metrics.handle(request, response)
    else response.writeHead(404).end()
  })
  const url = await listen(server)
  try {
    await registry.warmup()
    const container = createServiceContainer()
    registerPostgres(container, pool)
    // Something for every instrument: queries in an operation, a leak, a timeout, a resize, an error.
    await runOperation('orders-api', 'GET /orders/:id', (context) => context.postgres.query('SELECT 1'), { container })
    const leaked = new Promise<void>((resolve) => pool.on('leak', () => resolve()))
    const held = [await pool.connect(), await pool.connect()]
    await leaked
    await rejects(pool.connect(), PoolTimeoutError, 'ERR_POOL_TIMEOUT')
    for (const client of held) client.release()
    pool.resize({ maxSize: 3 })
    const errored = new Promise<void>((resolve) => pool.on('error', () => resolve()))
    assert.ok((await terminateBackends(appName, 'idle')) >= 1)
    await errored
    await sleep(10)

    const response = await fetch(`${url}/metrics`)
    assert.is(response.status, 200)
    const text = await response.text()

    const check = await promtool(['check', 'metrics'], { stdin: text })
    const problems = check.output.split('\n').filter((line) => line.trim() !== '')
    assert.ok(check.code === 0 || check.code === 3, `promtool parsed the exposition (exit ${check.code}): ${check.output}`)
    assert.equal(problems.filter((line) => !knownLint.test(line)), [], 'no lint finding beyond the conventions\' _count name')

    const types = new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1] as string, m[2] as string]))
    types.delete('target_info')
    assert.equal(Object.fromEntries(types), prometheusFamilies, 'metric families and their Prometheus types')
    const labels = new Set([...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1] as string))
    for (const label of prometheusLabels) assert.ok(labels.has(label), `label ${label}`)
    assert.match(text, /db_client_connection_limit\{db_client_connection_pool_name="orders",otel_scope_name="@lifeguard\/otel"\} 3\n/)
    assert.match(text, /db_client_connection_timeouts_total\{db_client_connection_pool_name="orders",otel_scope_name="@lifeguard\/otel"\} 1\n/)
    const selects = text.split('\n').filter((line) => line.startsWith('db_client_operation_duration_count{') && line.includes('db_operation_name="SELECT"'))
    assert.equal(selects.length, 1, 'one series of SELECTs')
    assert.match(selects[0] as string, /lifeguard_operation_name="GET \/orders\/:id".*\} 1$/)
    assert.not.match(text, new RegExp(`${appName}|127\\.0\\.0\\.1|SELECT 1`), 'no target or query text in the exposition')
  } finally {
    await new Promise((resolve) => server.close(resolve))
    await metrics.close()
    await registry.close()
    await waitForServerConnections(appName, 0)
  }
})

exposition.run()
