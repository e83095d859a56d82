import Cursor from 'pg-cursor'
import QueryStream from 'pg-query-stream'
import { once } from 'node:events'
import { pipeline } from 'node:stream/promises'
import { Writable } from 'node:stream'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool } from '../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'

const test = suite('Pool: cursors and streams given to query()')

// One connection, so a submittable always waits for the client held here first; a lost client then makes the
// next query time out (a typed error) instead of hanging.
function singleConnectionPool(topic: string): { pool: Pool; appName: string } {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName(topic)
  const pool = new Pool({ connectionString: `postgres://${user}@${host}:${port}/${database}`, application_name: appName, max: 1, connectionTimeoutMillis: 3000 })
  return { pool, appName }
}

async function nextQueryServed(pool: Pool): Promise<void> {
  const { rows } = await pool.query<{ n: number }>('SELECT 1 AS n')
  assert.equal(rows, [{ n: 1 }])
  assert.is(pool.totalCount, 1)
  assert.is(pool.idleCount, 1, 'the one connection is back')
}

test('a stream destroyed while it waits for its client gets none, and the connection stays in the pool', async () => {
  const { pool, appName } = singleConnectionPool('submit-destroyed')
  try {
    const held = await pool.connect()
    const stream = pool.query(new QueryStream('SELECT g FROM generate_series(1, 10) g'))
    stream.destroy()
    await once(stream, 'close')
    held.release()
    await nextQueryServed(pool)
  } finally {
    await pool.close({ timeoutMillis: 500 })
  }
  await waitForConnectionCount(appName, 0)
})

test('a cursor closed while it waits for its client gets none, and the connection stays in the pool', async () => {
  const { pool, appName } = singleConnectionPool('submit-closed')
  try {
    const held = await pool.connect()
    const cursor = pool.query(new Cursor('SELECT g FROM generate_series(1, 10) g'))
    await cursor.close()
    held.release()
    await nextQueryServed(pool)
  } finally {
    await pool.close({ timeoutMillis: 500 })
  }
  await waitForConnectionCount(appName, 0)
})

test('a stream read in full, and a cursor read then closed, give their client back', async () => {
  const { pool, appName } = singleConnectionPool('submit-read')
  try {
    const seen: number[] = []
    const sink = new Writable({ objectMode: true, write: (row: { g: number }, _encoding, next) => (seen.push(row.g), next()) })
    await pipeline(pool.query(new QueryStream('SELECT g FROM generate_series(1, 5) g')), sink)
    assert.equal(seen, [1, 2, 3, 4, 5])
    await nextQueryServed(pool)
    const cursor = pool.query(new Cursor('SELECT g FROM generate_series(1, 10) g'))
    assert.equal((await cursor.read(2)).map((row: { g: number }) => row.g), [1, 2])
    await cursor.close()
    await nextQueryServed(pool)
  } finally {
    await pool.close({ timeoutMillis: 500 })
  }
  await waitForConnectionCount(appName, 0)
})

test.run()
