import { InvalidOptionError } from '@lifeguard/core'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { Pool, type PostgresPool } from '../src/index.js'
import { pgConfig, uniqueAppName, waitForConnectionCount } from '@lifeguard/test-kit'
import { closeAndCheck, testPool } from './_helpers/pools.js'

const test = suite('maxUses: pg.Pool meanings')

async function pidsOfQueries(pool: Pick<PostgresPool, 'query'>, count: number): Promise<Set<number>> {
  const pids = new Set<number>()
  for (let i = 0; i < count; i++) pids.add((await pool.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid)
  return pids
}

test('new Pool takes maxUses: 0 as pg.Pool does, as no limit: one connection serves every query', async () => {
  const { host, port, user, database } = pgConfig()
  const appName = uniqueAppName('max-uses-zero-face')
  const connectionString = `postgres://${user}@${host}:${port}/${database}`
  const theirs = new pg.Pool({ connectionString, maxUses: 0 })
  const pool = new Pool({ connectionString, application_name: appName, max: 1, maxUses: 0 })
  assert.is(pool.options.maxUses, theirs.options.maxUses)
  assert.is(pool.options.maxUses, Infinity)
  assert.is((await pidsOfQueries(pool, 3)).size, 1, 'the connection is kept, not closed after each use')
  await theirs.end()
  await pool.end()
  await waitForConnectionCount(appName, 0)
})

test('createPostgresPool takes pg.maxUses: 0 the same way', async () => {
  const { pool, appName } = testPool('max-uses-zero', { maxSize: 1, pg: { maxUses: 0 } })
  assert.is((await pidsOfQueries(pool, 3)).size, 1)
  await closeAndCheck(pool, appName)
})

test('still refuses a negative or fractional maxUses, naming the option, the value and the range', () => {
  for (const maxUses of [-1, 1.5]) {
    try {
      new Pool({ host: '127.0.0.1', port: 9, maxUses })
      assert.unreachable('accepted')
    } catch (error) {
      assert.instance(error, InvalidOptionError)
      assert.is((error as InvalidOptionError).option, 'maxUses')
      assert.match((error as Error).message, `expected \`maxUses\` to be an integer >= 0 or Infinity (0: no limit), got \`${maxUses}\` (number)`)
    }
  }
})

test.run()
