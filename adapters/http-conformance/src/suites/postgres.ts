import { createPostgresPool, registerPostgres, type PostgresPool } from '@lifeguard/postgres'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'
import { waitFor } from '../wait.js'

const server = {
  host: process.env['PGHOST'] ?? '127.0.0.1',
  port: Number(process.env['PGPORT'] ?? 5432),
  user: process.env['PGUSER'] ?? 'postgres',
  database: process.env['PGDATABASE'] ?? 'test',
  ...(process.env['PGPASSWORD'] === undefined ? {} : { password: process.env['PGPASSWORD'] }),
}

/** A request that held a PostgreSQL client and was aborted gives it back; the server's count returns to its baseline. */
export function postgresSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: an aborted request gives its PostgreSQL client back`)
  const applicationName = `lifeguard-conformance-${driver.name}-${process.pid}`
  const admin = new pg.Client({ ...server, application_name: `${applicationName}-admin` })
  let pool: PostgresPool | undefined
  let harness: Harness | undefined
  // The same pool behind a server with a request deadline and the 503 mapping.
  let deadlined: Harness | undefined
  let baseline = 0

  const sessions = async (): Promise<{ count: number; inTransaction: number }> => {
    const { rows } = await admin.query<{ count: number; in_transaction: number }>(
      `SELECT count(*)::int AS count, count(*) FILTER (WHERE state LIKE 'idle in transaction%')::int AS in_transaction
         FROM pg_stat_activity WHERE application_name = $1`,
      [applicationName],
    )
    return { count: rows[0]?.count ?? 0, inTransaction: rows[0]?.in_transaction ?? 0 }
  }

  test.before(async () => {
    await admin.connect()
    baseline = (await sessions()).count
    // One connection: a client that was not given back would block every later request.
    const created = createPostgresPool({ name: 'conformance', ...server, applicationName, maxSize: 1, acquireTimeoutMillis: 5000 })
    pool = created
    harness = new Harness((container) => registerPostgres(container, created))
    await harness.start(driver)
    deadlined = new Harness((container) => registerPostgres(container, created))
    await deadlined.start(driver, { mapErrors: true, deadlineMillis: 300 })
  })
  test.after(async () => {
    await harness?.stop()
    await deadlined?.stop()
    await pool?.close({ timeoutMillis: 1000 })
    await admin.end()
  })
  const running = (): { harness: Harness; pool: PostgresPool } => {
    if (harness === undefined || pool === undefined) throw new Error('The PostgreSQL suite did not start.')
    return { harness, pool }
  }

  const abortMidRequest = async (path: string, requestId: string): Promise<string> => {
    const { harness } = running()
    const controller = new AbortController()
    const request = harness.get(path, { requestId, signal: controller.signal }).then(
      () => 'answered',
      (error: unknown) => (error as Error).name,
    )
    await harness.signals.entered.get(requestId).within(`the handler of ${requestId} to start`)
    controller.abort()
    return request
  }

  test('a request aborted while holding a client in a transaction has it rolled back and returned', async () => {
    const { harness, pool } = running()
    assert.is(await abortMidRequest('/pg/hold', 'pg-hold-1'), 'AbortError')
    const probe = harness.fixture.probes.get('pg-hold-1')
    await waitFor('the scope of pg-hold-1 disposed', () => probe?.disposeCount === 1)
    assert.ok(probe?.sawAbort, 'the handler saw the abort')
    // The held client is closed, not reused (its session may hold more than the transaction): once it has
    // closed, the server has no session of it left.
    await waitFor('the client back in the pool, or closed', () => {
      const metrics = pool.getPoolMetrics()
      return metrics.activeConnections === 0 && (metrics.closingConnections ?? 0) === 0
    })
    assert.is((await sessions()).inTransaction, 0, 'a session was left in a transaction')
    const next = await harness.get('/pg/query', { requestId: 'pg-after-1' })
    assert.equal(await next.json(), { inTransaction: false })
  })

  test('a request aborted while waiting for the only client leaves the queue, and the holder gives it back', async () => {
    const { harness, pool } = running()
    const holder = new AbortController()
    const holding = harness.get('/pg/hold', { requestId: 'pg-hold-2', signal: holder.signal }).catch((error: Error) => error.name)
    await harness.signals.entered.get('pg-hold-2').within('the handler of pg-hold-2 to start')
    assert.is(await abortMidRequest('/pg/query', 'pg-wait-2'), 'AbortError')
    const waiter = harness.fixture.probes.get('pg-wait-2')
    await waitFor('the waiting request disposed', () => waiter?.disposeCount === 1)
    assert.ok(waiter?.sawAbort, 'the waiter failed because its request was aborted')
    assert.is(pool.getPoolMetrics().waitingRequests, 0)
    holder.abort()
    assert.is(await holding, 'AbortError')
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
    await waitFor('the client back in the pool', () => pool.getPoolMetrics().activeConnections === 0)
    const next = await harness.get('/pg/query', { requestId: 'pg-after-2' })
    assert.equal(await next.json(), { inTransaction: false })
  })

  test('a deadline that passes while the request waits for the only client is pool pressure: 503 with Retry-After', async () => {
    const { harness, pool } = running()
    const holder = new AbortController()
    const holding = harness.get('/pg/hold', { requestId: 'pg-hold-3', signal: holder.signal }).catch((error: Error) => error.name)
    await harness.signals.entered.get('pg-hold-3').within('the handler of pg-hold-3 to start')
    // Waits in the pool's queue until its 300 ms deadline, well before the pool's own acquire timeout (5 s).
    const response = await deadlined!.get('/pg/query-unguarded', { requestId: 'pg-deadline-3' })
    assert.is(response.status, 503)
    assert.is(response.headers.get('retry-after'), '1')
    assert.is(response.headers.get('x-request-id'), 'pg-deadline-3')
    assert.equal(await response.json(), { error: { code: 'ERR_OPERATION_ABORTED', message: 'The service is busy. Retry later.' } })
    assert.is(pool.getPoolMetrics().waitingRequests, 0)
    holder.abort()
    assert.is(await holding, 'AbortError')
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0 && deadlined!.fixture.container.openScopes === 0)
    await waitFor('the client back in the pool', () => pool.getPoolMetrics().activeConnections === 0)
  })

  test("closing the pool brings the server's connection count for the application back to its baseline", async () => {
    const { harness, pool } = running()
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
    await pool.close({ timeoutMillis: 1000 })
    const settled = async (): Promise<boolean> => (await sessions()).count === baseline
    for (let i = 0; i < 500 && !(await settled()); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.is((await sessions()).count, baseline)
  })

  test.run()
}
