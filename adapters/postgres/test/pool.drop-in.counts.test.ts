import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool } from '../src/index.js'
import { ManualClock, pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { settlesWithin } from './_helpers/pools.js'

const test = suite('Pool: counts and events as pg.Pool gives them')

// A drop-in pool on the test server under an application name of its own, to count its connections by.
function dropInPool(topic: string, max: number, clock?: ManualClock): { pool: Pool; appName: string } {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName(topic)
  return { pool: new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max, ...(clock === undefined ? {} : { clock }) }), appName }
}

test('callers a connection is being opened for are not waiting; callers beyond max are', async () => {
  const { pool, appName } = dropInPool('drop-in-waiting', 2)
  try {
    const connecting = [pool.connect(), pool.connect(), pool.connect()]
    // Two connections being opened, for the first two callers; the third has none coming.
    assert.is(pool.totalCount, 2)
    assert.is(pool.waitingCount, 1)
    const [first, second] = await Promise.all(connecting.slice(0, 2))
    assert.is(pool.waitingCount, 1, 'still waiting for a client to come back')
    first!.release()
    const third = await connecting[2]!
    assert.is(pool.waitingCount, 0)
    second!.release()
    third.release()
  } finally {
    await pool.end()
  }
  await waitForConnectionCount(appName, 0)
})

test("a 'connect' listener's statement on a connection closed at once by end() finishes, with nothing unhandled", async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('drop-in-connect-set')
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => void unhandled.push(reason)
  process.on('unhandledRejection', onUnhandled)
  try {
    for (let round = 0; round < 10; round++) {
      const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 4 })
      // As node-postgres documents it: not awaited, nothing catches it.
      pool.on('connect', (client) => void client.query("SET statement_timeout = '5s'"))
      // Two callers, a connection opened for each; the first served may serve both, leaving one surplus.
      await Promise.all([pool.query('SELECT 1'), pool.query('SELECT 1')])
      await pool.end()
    }
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(unhandled, [])
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  await waitForConnectionCount(appName, 0)
})

test("'release' passes release()'s argument as given, as pg.Pool does", async () => {
  const { pool, appName } = dropInPool('drop-in-release-arg', 2)
  const seen: unknown[] = []
  pool.on('release', (argument: unknown) => void seen.push(argument))
  try {
    const failure = new Error('broken')
    for (const argument of [undefined, true, failure]) (await pool.connect()).release(argument as Error | boolean | undefined)
    assert.equal(seen, [undefined, true, failure])
  } finally {
    await pool.end()
  }
  await waitForConnectionCount(appName, 0)
})

test("'release' after a failed pool.query() carries its error, as pg.Pool's does, though the connection stays", async () => {
  const { pool, appName } = dropInPool('drop-in-release-error', 1)
  const seen: unknown[] = []
  pool.on('release', (argument: unknown) => void seen.push(argument))
  try {
    const error = await pool.query('SELECT * FROM no_such_table_drop_in').catch((failure: unknown) => failure)
    await pool.query('SELECT 1')
    assert.is(seen.length, 2)
    assert.is(seen[0], error, 'the error the caller got')
    assert.is((seen[0] as { code?: string }).code, '42P01')
    assert.is(seen[1], undefined)
    assert.is(pool.totalCount, 1, 'the connection stayed (documented)')
  } finally {
    await pool.end()
  }
  await waitForConnectionCount(appName, 0)
})

test('close({ timeoutMillis }) after end() takes back what end() would wait for without limit', async () => {
  const clock = new ManualClock()
  const { pool, appName } = dropInPool('drop-in-end-then-close', 1, clock)
  const leaked = await pool.connect()
  // Kysely's destroy(), connect-pg-simple's close: end() waits for every client, however long.
  const ending = pool.end()
  const closing = pool.close({ timeoutMillis: 50 })
  await clock.advance(49)
  assert.is(pool.totalCount, 1, 'not before the shorter timeout')
  await clock.advance(1)
  await closing
  await ending
  assert.is(pool.totalCount, 0)
  leaked.release()
  await waitForConnectionCount(appName, 0)
})

test('close() with no timeout after end() still takes back the clients after its default 10000 ms', async () => {
  for (const options of [undefined, {}]) {
    const clock = new ManualClock()
    const { pool, appName } = dropInPool('drop-in-end-then-default-close', 1, clock)
    const leaked = await pool.connect()
    const ending = pool.end()
    const closing = pool.close(options)
    await clock.advance(9_999)
    assert.is(pool.totalCount, 1, 'not before the default timeout')
    await clock.advance(1)
    // A safety net only (real time): without the default, the close would wait about 24.8 days.
    await settlesWithin('close() after end()', closing, 30_000)
    await ending
    assert.is(pool.totalCount, 0)
    leaked.release()
    await waitForConnectionCount(appName, 0)
  }
})

test('close() with no timeout after an earlier close({ timeoutMillis }) keeps that close as it is', async () => {
  const clock = new ManualClock()
  const { pool, appName } = dropInPool('drop-in-close-then-close', 1, clock)
  const leaked = await pool.connect()
  const first = pool.close({ timeoutMillis: 60_000 })
  const second = pool.close()
  await clock.advance(10_000)
  assert.is(pool.totalCount, 1, 'the first close still gives the client its 60 s')
  await clock.advance(50_000)
  await settlesWithin('the close', Promise.all([first, second]), 30_000)
  assert.is(pool.totalCount, 0)
  leaked.release()
  await waitForConnectionCount(appName, 0)
})

test.run()
