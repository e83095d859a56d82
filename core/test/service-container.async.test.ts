import { inspect } from 'node:util'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ResolutionError, createServiceContainer } from '../src/index.js'
import { deferred, isPending, turn } from './_helpers/async.js'
import { rejects, throwsError } from '@lifeguard/test-kit'

const asyncFactories = suite('ServiceContainer async factories')

asyncFactories('a factory pending when its scope is disposed may still resolve its dependencies; what it opened is disposed', async () => {
  const opened = deferred()
  let open = 0
  const container = createServiceContainer()
    .singleton('logger', () => ({ name: 'logger' }))
    .scoped('unitOfWork', async (r) => {
      open++ // a checkout, a BEGIN
      await opened.promise
      const logger = r.resolve('logger') // looked up after its first await
      return { logger, [Symbol.asyncDispose]: async () => void open-- }
    })
  const scope = container.createScope()
  const resolving = scope.resolve('unitOfWork') as Promise<{ logger: { name: string } }>
  await turn()
  const disposing = scope.dispose()
  opened.resolve()
  assert.is((await resolving).logger.name, 'logger')
  await disposing
  assert.is(open, 0, 'disposed with the scope, not leaked')
  await container.dispose()
})

asyncFactories('dispose waits for a factory that one pending at dispose started without awaiting it', async () => {
  const firstGate = deferred()
  const secondGate = deferred()
  const closed: string[] = []
  const container = createServiceContainer()
    .scoped('second', async () => {
      await secondGate.promise
      return { [Symbol.asyncDispose]: async () => void closed.push('second') }
    })
    .scoped('first', async (r) => {
      await firstGate.promise
      void r.resolve('second') // started, not awaited (a warm-up, a prefetch)
      return { [Symbol.asyncDispose]: async () => void closed.push('first') }
    })
  const scope = container.createScope()
  const resolving = scope.resolve('first')
  await turn()
  const disposing = scope.dispose()
  firstGate.resolve()
  await resolving
  assert.ok(await isPending(disposing), 'still waiting for the second factory')
  secondGate.resolve()
  await disposing
  assert.equal(closed, ['second', 'first'], 'both disposed before dispose() resolved, newest first')
  await container.dispose()
})

asyncFactories('an async factory resolves to a promise of its instance, cached like a sync one', async () => {
  const container = createServiceContainer().scoped('client', async () => {
    await turn()
    return { connected: true }
  })
  const scope = container.createScope()
  const pending = scope.resolve('client')
  assert.instance(pending, Promise)
  assert.is(scope.resolve('client'), pending)
  assert.equal(await pending, { connected: true })
  await container.dispose()
})

asyncFactories('concurrent resolutions of an async singleton create it once', async () => {
  let created = 0
  const gate = deferred()
  const container = createServiceContainer().singleton('pool', async () => {
    created++
    await gate.promise
    return { id: created }
  })
  const resolutions = Array.from({ length: 50 }, (_, i) => (i % 2 === 0 ? container.createScope() : container).resolve('pool'))
  gate.resolve()
  const pools = await Promise.all(resolutions)
  assert.is(created, 1)
  assert.ok(pools.every((pool) => pool === pools[0]))
  await container.dispose()
})

asyncFactories('async factories can await async dependencies', async () => {
  const container = createServiceContainer()
    .singleton('db', async () => {
      await turn()
      return { name: 'orders-db' }
    })
    .scoped('repo', async (r) => ({ db: await r.resolve('db') }))
  assert.equal(await container.createScope().resolve('repo'), { db: { name: 'orders-db' } })
  await container.dispose()
})

asyncFactories('a failed async factory is not cached, so the next resolve tries again', async () => {
  let attempts = 0
  const container = createServiceContainer().singleton('client', async () => {
    attempts++
    await turn()
    if (attempts === 1) throw new Error('server not up yet')
    return { attempt: attempts }
  })
  const error = await rejects(container.resolve('client'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'factory')
  assert.equal(error.path, ['client'])
  assert.is((error.cause as Error).message, 'server not up yet')
  assert.match(error.message, "Could not resolve 'client'. Its factory failed: server not up yet")
  assert.equal(await container.resolve('client'), { attempt: 2 })
  assert.is(container.resolve('client'), container.resolve('client'))
  await container.dispose()
})

asyncFactories("a factory's error is redacted on the ResolutionError's cause too, which loggers print", async () => {
  const container = createServiceContainer().singleton('client', async () => {
    throw Object.assign(new Error('could not connect to postgres://app:s3cret@db:5432/orders'), { code: 'ECONNREFUSED' })
  })
  const error = await rejects(container.resolve('client'), ResolutionError, 'ERR_RESOLUTION')
  // Before, the message was redacted and the cause was the original, printed whole by util.inspect and pino.
  assert.not.match(inspect(error), 's3cret')
  assert.is((error.cause as { code?: string }).code, 'ECONNREFUSED', 'the cause keeps its code')
  assert.match((error.cause as Error).message, 'postgres://app:***@db:5432/orders')
  await container.dispose()
})

asyncFactories('a failed async factory is not cached when the scope already holds other instances', async () => {
  let attempts = 0
  const container = createServiceContainer()
    .scoped('first', () => ({ first: true }))
    .scoped('second', async () => {
      attempts++
      await turn()
      if (attempts === 1) throw new Error('not yet')
      return { attempt: attempts }
    })
  const scope = container.createScope()
  const first = scope.resolve('first')
  await rejects(scope.resolve('second') as Promise<unknown>, ResolutionError, 'ERR_RESOLUTION')
  assert.equal(await scope.resolve('second'), { attempt: 2 })
  assert.is(scope.resolve('first'), first)
  assert.is(scope.resolve('second'), scope.resolve('second'))
  await container.dispose()
})

asyncFactories('a failed sync factory is not cached either', async () => {
  let attempts = 0
  const container = createServiceContainer().scoped('flaky', () => {
    if (++attempts === 1) throw new Error('first call fails')
    return attempts
  })
  const scope = container.createScope()
  throwsError(() => scope.resolve('flaky'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(scope.resolve('flaky'), 2)
  await container.dispose()
})

// Orders and payments, each an async factory that needs the other.
function cyclicContainer() {
  return createServiceContainer()
    .scoped('orders', async (r) => {
      await turn()
      return { payments: await r.resolve('payments') }
    })
    .scoped('payments', async (r) => {
      await turn()
      return { orders: await r.resolve('orders') }
    })
}

asyncFactories('a cycle through async factories rejects with the resolution path', async () => {
  const container = cyclicContainer()
  const scope = container.createScope()
  const error = await rejects(scope.resolve('orders'), ResolutionError, 'ERR_RESOLUTION')
  assert.is(error.reason, 'cycle')
  assert.equal(error.path, ['orders', 'payments', 'orders'])
  assert.match(error.message, "Could not resolve 'orders'. It depends on itself.")
  assert.match(error.message, 'Resolution path: orders -> payments -> orders')
  await container.dispose()
})

asyncFactories('a cycle started from both ends by two branches of one request rejects both, and the scope disposes', async () => {
  // Each branch starts one end, so each factory finds the other pending: no resolution path shows the
  // cycle, and without the wait check neither promise (nor the scope's disposal) would ever settle.
  const container = cyclicContainer()
  const scope = container.createScope()
  const [orders, payments] = await Promise.allSettled([scope.resolve('orders'), scope.resolve('payments')])
  for (const outcome of [orders, payments]) {
    assert.is(outcome.status, 'rejected')
    const error = (outcome as PromiseRejectedResult).reason as ResolutionError
    assert.instance(error, ResolutionError)
    assert.is(error.reason, 'cycle')
    assert.is(error.path.length, 3)
    assert.is(error.path[0], error.path[2], 'the path goes around the cycle')
  }
  await scope.dispose()
  await container.dispose()
})

asyncFactories('two branches waiting on the same pending service are no cycle', async () => {
  const gate = deferred()
  const container = createServiceContainer()
    .scoped('db', async () => {
      await gate.promise
      return { ready: true }
    })
    .scoped('orders', async (r) => ({ db: await r.resolve('db') }))
    .scoped('payments', async (r) => ({ db: await r.resolve('db'), orders: await r.resolve('orders') }))
  const scope = container.createScope()
  const both = Promise.all([scope.resolve('orders'), scope.resolve('payments')])
  await turn()
  gate.resolve()
  const [orders, payments] = await both
  assert.is(orders.db, payments.db)
  assert.is(payments.orders, orders)
  await container.dispose()
})

asyncFactories('an async dependency failure keeps the innermost resolution path', async () => {
  const container = createServiceContainer()
    .scoped('service', async (r) => ({ repo: await r.resolve('repo') }))
    .scoped('repo', async () => {
      await turn()
      throw new Error('no database')
    })
  const error = await rejects(container.createScope().resolve('service'), ResolutionError, 'ERR_RESOLUTION')
  assert.equal(error.path, ['service', 'repo'])
  assert.match(error.message, 'Resolution path: service -> repo')
  await container.dispose()
})

asyncFactories.run()
