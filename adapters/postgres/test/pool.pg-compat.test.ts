import { InvalidOptionError } from '@lifeguard/core'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { PostgresPool, PostgresPoolClient } from '../src/index.js'
import { serverConnectionCount, throwsError, waitForConnectionCount } from '@lifeguard/test-kit'
import Cursor from 'pg-cursor'
import { closeAndCheck, testPool, until } from './_helpers/pools.js'

const test = suite<{ pool: PostgresPool; appName: string }>('PostgresPool as a pg.Pool')

test.before((context) => {
  Object.assign(context, testPool('pg-compat', { maxSize: 2 }))
})

test.after(async ({ pool, appName }) => {
  await closeAndCheck(pool, appName)
})

test('connect(callback) hands over the client and a done() that gives back this checkout, once', async ({ pool }) => {
  const { client, done } = await new Promise<{ client: PostgresPoolClient; done: (release?: boolean | Error) => void }>((resolve, reject) => {
    pool.connect((error, client, done) => {
      if (error !== undefined || client === undefined) return reject(error)
      resolve({ client, done })
    })
  })
  assert.is(pool.activeCount, 1)
  assert.equal((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }])
  done()
  assert.is(pool.activeCount, 0)
  assert.throws(() => done(), /already been released/)
})

test('query() takes text, values, a config object and an optional callback', async ({ pool }) => {
  const plain = await pool.query<{ n: number }>('SELECT $1::int + 1 AS n', [1])
  assert.equal(plain.rows, [{ n: 2 }])
  const config = await pool.query({ text: 'SELECT $1::text AS s', values: ['x'], rowMode: 'array' })
  assert.equal(config.rows, [['x']])
  const viaCallback = await new Promise<unknown>((resolve, reject) => pool.query('SELECT 3 AS n', (error, result) => (error ? reject(error) : resolve(result?.rows))))
  assert.equal(viaCallback, [{ n: 3 }])
  const withValues = await new Promise<unknown>((resolve, reject) => pool.query('SELECT $1::int AS n', [4], (error, result) => (error ? reject(error) : resolve(result?.rows))))
  assert.equal(withValues, [{ n: 4 }])
  const failed = await new Promise<Error | undefined>((resolve) => pool.query('SELEC', (error) => resolve(error)))
  assert.is((failed as { code?: string } | undefined)?.code, '42601')
  assert.is(pool.activeCount, 0)
})

test('a callback that is not a function is refused at once, before any checkout', ({ pool }) => {
  const call = pool as unknown as { connect(cb: unknown): void; query(text: string, values: unknown, cb: unknown): void }
  for (const [where, attempt] of [['PostgresPool.connect', () => call.connect({})], ['PostgresPool.query', () => call.query('SELECT 1', [], {})]] as const) {
    try {
      attempt()
      assert.unreachable(`${where} took it`)
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.match((error as Error).message, `Invalid options for ${where}: expected \`callback\` to be a function, got an object.`)
    }
  }
  assert.is(pool.activeCount, 0)
})

test('end(callback) closes the pool and then calls back, as pg.Pool does', async () => {
  const { pool, appName } = testPool('pg-compat-end', { maxSize: 1 })
  await pool.query('SELECT 1')
  const error = await new Promise<Error | undefined>((resolve) => pool.end(resolve))
  assert.is(error, undefined)
  assert.is(pool.state, 'closed')
  await waitForConnectionCount(appName, 0)
  assert.throws(() => (pool as unknown as { end(cb: unknown): void }).end('later'), (e: unknown) => e instanceof InvalidOptionError && /PostgresPool\.end/.test((e as Error).message))
})

test('query(submittable) is refused at once with InvalidOptionError: it would never settle, and keep its connection', ({ pool }) => {
  const cursor = new Cursor('SELECT 1')
  const error = throwsError(() => pool.query(cursor as never), InvalidOptionError, 'ERR_INVALID_OPTION')
  assert.is(error.option, 'text')
  assert.match(error.message, "Could not run the query on pool 'pg-compat'. A submittable (pg-cursor, pg-query-stream) runs on a client")
  assert.is(pool.activeCount, 0)
})

test('release(true) closes the connection instead of returning it', async ({ pool, appName }) => {
  await pool.query('SELECT 1')
  const before = pool.totalCount
  const client = await pool.connect()
  client.release(true)
  await until('the connection to close', () => pool.totalCount === before - 1)
  assert.is(await serverConnectionCount(appName), before - 1)
})

test('release() with any truthy argument closes the connection, as pg.Pool does: a string, a number, an error of another realm', async ({ pool }) => {
  for (const argument of ['done with it', 1, { message: 'an Error from a vm context' }]) {
    const client = await pool.connect()
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    client.release(argument as never)
    const next = await pool.connect()
    const again = await next.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
    next.release()
    assert.is.not(again.rows[0]?.pid, rows[0]?.pid, `release(${JSON.stringify(argument)}) handed the same session on`)
  }
})

test('a second release() throws as pg.Pool does, and counts stay right', async ({ pool }) => {
  const client = await pool.connect()
  client.release()
  assert.throws(() => client.release(), /already been released/)
  assert.is(pool.activeCount, 0)
  const again = await pool.connect()
  assert.is(pool.activeCount, 1)
  again.release()
})

test.run()
