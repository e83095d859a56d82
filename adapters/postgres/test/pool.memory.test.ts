import { OperationContext } from '@lifeguard/core'
import { collected } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { registerPostgres } from '../src/index.js'
import { createServiceContainer } from '@lifeguard/core'
import { closeAndCheck, testPool } from './_helpers/pools.js'

// What a pool keeps of the operations it served: nothing, once they are disposed, however long its
// connections and timers live.
const test = suite('PostgresPool memory: what it keeps of operations')

test('a connection opened for an operation keeps nothing of it: the operation is collected while the connection stays open', async () => {
  const { pool, appName } = testPool('memory-opened-for', { maxSize: 1, idleTimeoutMillis: 60_000 })
  const container = registerPostgres(createServiceContainer(), pool)
  const opener = await (async () => {
    const context = OperationContext.create('api', 'GET /first', { container })
    // The pool has no connection yet: this query opens one, from inside the operation.
    await context.run(() => context.postgres.query('SELECT 1'))
    await context.dispose()
    return new WeakRef(context)
  })()
  assert.is(pool.totalCount, 1, 'the connection stays open in the pool')
  assert.ok(await collected(opener), 'the operation that opened the connection is kept for as long as the connection lives')
  await container.dispose()
  await closeAndCheck(pool, appName)
})

test.run()
