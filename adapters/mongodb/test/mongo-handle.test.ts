import { AsyncResource } from 'node:async_hooks'
import { createServiceContainer, DisposedError, InvalidOptionError, OperationAbortedError, OperationContext, ResolutionError, runOperation, type ServiceContainer } from '@lifeguard/core'
import { MongoServerError } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createMongoHandle, registerMongo, type MongoHandle, type MongoPool } from '../src/index.js'
import { appNameOf, closeAll, openPool, recordEvents, sleep } from './_helpers/pools.js'
import { deferred, rejects } from '@lifeguard/test-kit'
import { startTarget, type TestTarget } from './_helpers/target.js'

const DB = 'lifeguard_handle'

interface Context {
  target: TestTarget
  pools: MongoPool[]
}

const Handle = suite<Context>('request-scoped MongoDB handle', { target: undefined as never, pools: [] })

Handle.before(async (context) => {
  context.target = await startTarget([DB, `${DB}_other`])
})

Handle.after.each(async (context) => {
  await closeAll(context.target, context.pools)
})

Handle.after(async (context) => {
  await context.target.close()
})

// A standalone mongod refuses transactions (IllegalOperation, 20): there the transaction tests check that
// refusal, and that the handle gives its slot back, instead of the commit.
async function refusedOnStandalone(target: TestTarget, pool: MongoPool): Promise<boolean> {
  if (target.transactions) return false
  const handle = createMongoHandle(pool)
  const error = await rejects(handle.withTransaction((session) => handle.collection('refused').insertOne({ x: 1 }, { session })), MongoServerError)
  assert.is(error.code, 20)
  assert.is(pool.getPoolMetrics().waitingRequests, 0)
  await handle.dispose()
  return true
}

function operationIn(container: ServiceContainer<any>, signal?: AbortSignal): OperationContext {
  return OperationContext.create('orders-api', 'POST /orders', { container, requestId: 'req-1', ...(signal ? { signal } : {}) })
}

Handle("the seed's calls on context.mongodb itself act on the default collection given to registerMongo", async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  const container = registerMongo(createServiceContainer(), pool, { collection: 'seed_events' })
  const operation = operationIn(container)
  const data = { kind: 'order-placed', sku: 'tea' }
  await operation.mongodb.insertOne(data)
  await operation.mongodb.insertMany([{ kind: 'a' }, { kind: 'b' }])
  assert.is((await operation.mongodb.findOne({ kind: 'order-placed' }))?.['sku'], 'tea')
  assert.is(await operation.mongodb.countDocuments({}), 3)
  assert.is((await operation.mongodb.find({ kind: 'a' }).toArray()).length, 1)
  await operation.mongodb.updateOne({ kind: 'a' }, { $set: { seen: true } })
  await operation.mongodb.deleteMany({ kind: { $in: ['a', 'b'] } })
  assert.is(await operation.mongodb.collection('seed_events').countDocuments({}), 1, 'the same collection, named')
  await operation.dispose()
  const plain = createMongoHandle(pool)
  // A rejection, not a throw: `.catch()` and `Promise.allSettled` see it.
  const error = await rejects(plain.insertOne({ x: 1 }), InvalidOptionError, 'ERR_INVALID_OPTION')
  const settled = await Promise.allSettled([plain.countDocuments({}), plain.findOne({})])
  assert.equal(settled.map((outcome) => outcome.status), ['rejected', 'rejected'])
  assert.is(error.option, 'collection')
  assert.match(error.message, "registerMongo(container, pool, { collection: 'events' })")
  await plain.dispose()
})

Handle('registerMongo makes context.mongodb a typed handle per operation, disposed with the operation', async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  const container = createServiceContainer()
  registerMongo(container, pool)

  const first = operationIn(container)
  const second = operationIn(container)
  let handle: MongoHandle | undefined
  await first.run(async () => {
    handle = OperationContext.current().mongodb
    assert.is(first.mongodb, handle, 'one handle per operation')
    assert.is(handle.pool, pool)
    assert.is(handle.context, first)
    await handle.collection('orders').insertOne({ sku: 'a', qty: 1 })
  })
  assert.is.not(second.mongodb, handle)
  const [stored] = await context.target.documents(`${DB}.orders`)
  assert.equal([stored?.['sku'], stored?.['qty']], ['a', 1])

  const orders = handle!.collection('orders')
  await first.dispose()
  assert.ok(handle!.disposed)
  assert.throws(() => handle!.collection('orders'), (error: unknown) => error instanceof DisposedError && /handle of pool .* is disposed/.test(error.message))
  await rejects(orders.findOne({}), DisposedError, 'ERR_DISPOSED')
  await second.dispose()
})

Handle('a second pool registered under its own name resolves with context.get(name); context.mongodb needs the default name', async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  const container = createServiceContainer()
  registerMongo(container, pool, { name: 'analytics' })
  const operation = operationIn(container)
  const analytics = operation.get<MongoHandle>('analytics')
  assert.is(analytics.pool, pool)
  assert.is(analytics.context, operation)
  assert.is(await analytics.db().collection('events').countDocuments({}), 0)
  assert.throws(() => operation.mongodb, (error: unknown) => error instanceof ResolutionError && /Could not resolve 'mongodb'/.test(error.message))
  await operation.dispose()
})

Handle('withTransaction commits, returns the result, holds one slot, and ends its session', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, events: recorder.listeners })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const handle = createMongoHandle(pool)
  await handle.collection('ledger').insertOne({ _id: 'a', balance: 10 } as never)
  const before = recorder.of('acquire').length

  // maxSize 1, held by the transaction: its own operations must run in its slot, not queue for another.
  const result = await handle.withTransaction(async (session) => {
    const ledger = handle.collection<{ _id: string; balance: number }>('ledger')
    await ledger.updateOne({ _id: 'a' }, { $inc: { balance: -3 } }, { session })
    await ledger.insertOne({ _id: 'b', balance: 3 }, { session })
    return 'moved'
  })
  assert.is(result, 'moved')
  assert.is(recorder.of('acquire').length - before, 1, 'the transaction is one checkout')
  const docs = await context.target.documents(`${DB}.ledger`)
  assert.equal(docs.map((d) => [d['_id'], d['balance']]), [['a', 7], ['b', 3]])
  if (context.target.wire) {
    const names = context.target.wire.commands.map((c) => c.name)
    assert.ok(names.includes('commitTransaction'), names.join(' '))
  }
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  await handle.dispose()
})

Handle('withTransaction aborts and rethrows when fn throws', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const handle = createMongoHandle(pool)
  const audit = handle.collection('audit')
  await audit.insertOne({ _id: 1 } as never)
  const failure = new Error('validation failed')
  const error = await rejects(
    handle.withTransaction(async (session) => {
      await audit.insertOne({ _id: 2 } as never, { session })
      throw failure
    }),
    Error,
  )
  assert.is(error, failure)
  assert.equal((await context.target.documents(`${DB}.audit`)).map((d) => d['_id']), [1])
  // The slot came back: maxSize is 1 and this does not wait.
  assert.is(await audit.countDocuments({}), 1)
  await handle.dispose()
})

Handle('an operation that aborts inside withTransaction sends nothing more, and the transaction is aborted, not committed', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const container = createServiceContainer()
  registerMongo(container, pool)
  for (const abortAt of ['between two writes', 'after the last write'] as const) {
    const client = new AbortController()
    const operation = operationIn(container, client.signal)
    const sentBefore = context.target.wire?.commands.length ?? 0
    const error = await rejects(
      operation.run(() =>
        operation.mongodb.withTransaction(async (session) => {
          const ledger = operation.mongodb.collection('aborted_ledger')
          await ledger.insertOne({ step: 1, abortAt }, { session })
          client.abort(new Error('client went away'))
          if (abortAt === 'between two writes') await ledger.insertOne({ step: 2, abortAt }, { session })
        }),
      ),
      OperationAbortedError,
      'ERR_OPERATION_ABORTED',
    )
    const action = abortAt === 'between two writes' ? 'run a command on' : 'commit a transaction on'
    assert.is(error.message, `Could not ${action} pool '${pool.name}'. The operation was aborted.`)
    assert.is((error.cause as Error).message, 'client went away')
    if (context.target.wire) {
      const sent = context.target.wire.commands.slice(sentBefore).map((c) => c.name)
      assert.equal(sent, ['insert', 'abortTransaction'], abortAt)
    }
    await operation.dispose()
  }
  assert.equal(await context.target.documents(`${DB}.aborted_ledger`), [])
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  await container.dispose()
})

Handle("a transaction whose operation aborted sends nothing more and does not commit, also once that operation's disposal has begun", async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const container = createServiceContainer()
  const client = new AbortController()
  const operation = operationIn(container, client.signal)
  // A handle of its own, which reads the current operation at each call (as `pool.db()` does).
  const handle = createMongoHandle(pool)
  const sentBefore = context.target.wire?.commands.length ?? 0
  let disposing: Promise<void> | undefined
  await rejects(
    operation.run(() =>
      handle.withTransaction(async (session) => {
        await handle.collection('late_ledger').insertOne({ step: 1 }, { session })
        // The client went away, and the request's disposal began (Express after its grace) while `fn` still runs.
        client.abort(new Error('client gone'))
        disposing = operation.dispose()
        await handle.collection('late_ledger').insertOne({ step: 2 }, { session })
      }),
    ),
    OperationAbortedError,
  )
  await disposing
  if (context.target.wire) assert.equal(context.target.wire.commands.slice(sentBefore).map((c) => c.name), ['insert', 'abortTransaction'])
  assert.equal(await context.target.documents(`${DB}.late_ledger`), [])
  await handle.dispose()
  await container.dispose()
})

Handle("a transaction whose operation ends under it (the handle disposed mid-way) rejects with DisposedError, not the driver's second abort", async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const container = createServiceContainer()
  registerMongo(container, pool)
  for (const abortFirst of [false, true]) {
    const client = new AbortController()
    const operation = operationIn(container, client.signal)
    let ended!: () => void
    const operationEnded = new Promise<void>((resolve) => (ended = resolve))
    const running = operation.run(() =>
      operation.mongodb.withTransaction(async (session) => {
        const ledger = operation.mongodb.collection('ended_ledger')
        await ledger.insertOne({ step: 1 }, { session })
        ended()
        await new Promise((resolve) => setImmediate(resolve))
        await ledger.insertOne({ step: 2 }, { session })
      }),
    )
    await operationEnded
    // Express after its grace: the client went away (or not), and the operation's scope is disposed.
    if (abortFirst) client.abort(new Error('client went away'))
    const disposing = operation.dispose()
    const error = await running.then(() => undefined, (caught: unknown) => caught)
    await disposing
    if (abortFirst) assert.instance(error, OperationAbortedError)
    else {
      assert.instance(error, DisposedError)
      assert.match((error as Error).message, 'Its handle was disposed (its operation ended) while it ran, so it was aborted.')
    }
  }
  assert.equal(await context.target.documents(`${DB}.ended_ledger`), [])
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  await container.dispose()
})

Handle('disposing gives back the slot of a transaction whose fn still awaits something else, and it never commits', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 2000 })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const container = createServiceContainer()
  registerMongo(container, pool)
  const operation = operationIn(container)
  const slowCall = deferred()
  const wrote = deferred()
  const running = operation.run(() =>
    operation.mongodb.withTransaction(async (session) => {
      await operation.mongodb.collection('stuck_ledger').insertOne({ step: 1 }, { session })
      wrote.resolve()
      // A call to another service that hangs past the request's end.
      await slowCall.promise
      await operation.mongodb.collection('stuck_ledger').insertOne({ step: 2 }, { session })
    }),
  )
  await wrote.promise
  await operation.dispose()
  // The one slot is free for the next request while `fn` still waits.
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  const next = createMongoHandle(pool)
  assert.is(await next.collection('stuck_ledger').countDocuments({}), 0)
  slowCall.resolve()
  await rejects(running, DisposedError)
  assert.equal(await context.target.documents(`${DB}.stuck_ledger`), [])
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  await next.dispose()
  await container.dispose()
})

Handle('dispose ends the sessions the handle started, aborting an open transaction', async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  if (await refusedOnStandalone(context.target, pool)) return
  const handle = createMongoHandle(pool)
  const drafts = handle.collection('drafts')
  const session = handle.startSession()
  session.startTransaction()
  await drafts.insertOne({ draft: true }, { session })
  const quiet = handle.startSession()
  await handle.dispose()
  assert.ok(session.hasEnded)
  assert.ok(quiet.hasEnded)
  assert.equal(await context.target.documents(`${DB}.drafts`), [])
  assert.ok(context.target.wire?.commands.some((c) => c.name === 'abortTransaction') ?? true)
})

Handle("work a library starts in a request and runs after it ended is no part of it: not refused for the request's abort", async (context) => {
  const pool = openPool(context.target, { dbName: DB })
  context.pools.push(pool)
  const container = createServiceContainer()
  const client = new AbortController()
  const operation = operationIn(container, client.signal)
  // A timer a library sets on first use keeps the request's async context for good.
  let later: (() => Promise<unknown>) | undefined
  await operation.run(async () => {
    await pool.collection('outlived').findOne({})
    later = AsyncResource.bind(() => pool.collection('outlived').countDocuments({}))
  })
  client.abort(new Error('client gone'))
  await operation.dispose()
  assert.is(await later?.(), 0)
  await container.dispose()
})

Handle("a disposer's cleanup runs after its operation aborted, and counts as that operation's, also when it waits for a slot", async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const owners: (string | undefined)[] = []
  const off = pool.events.on('acquire', (event) => void owners.push(event.owner?.requestId))
  const cleanups: string[] = []
  let lease: Awaited<ReturnType<MongoPool['acquire']>> | undefined
  // A job that ignores its deadline; its scoped services release what they hold when its scope is disposed
  // (inside the job's context): one through the pool, one through the job's own handle.
  const container = registerMongo(createServiceContainer(), pool)
    .scoped('lock', () => ({}), {
      dispose: async () => {
        const waiting = pool.collection('locks').deleteOne({ job: 'job-1' }).then(() => void cleanups.push('pool'))
        // The slot is taken: the cleanup waits for it, and must not be refused for the operation's abort.
        lease?.release()
        await waiting
      },
    })
    .scoped('audit', (scope) => scope.resolve('mongodb'), {
      dispose: async (handle) => {
        await handle.collection('audit').insertOne({ job: 'job-1', outcome: 'aborted' })
        cleanups.push('handle')
      },
    })
  const controller = new AbortController()
  await runOperation('jobs', 'release-lock', async (operation) => {
    // Disposed newest first: the lock's cleanup waits for the slot, then the audit line takes a free one.
    operation.get('audit')
    operation.get('lock')
    lease = await pool.acquire()
    owners.length = 0
    controller.abort(new Error('deadline'))
  }, { container, requestId: 'job-1', signal: controller.signal })
  assert.equal(cleanups.sort(), ['handle', 'pool'], 'both cleanups ran: refusing them would leave what they release held')
  assert.equal(owners, ['job-1', 'job-1'])
  assert.is(pool.getPoolMetrics().activeConnections, 0)
  off()
  await container.dispose()
})

Handle("the calls of an operation's handle made outside its run() count as that operation's", async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const owners: (string | undefined)[] = []
  const off = pool.events.on('acquire', (event) => void owners.push(event.owner?.requestId))
  const container = registerMongo(createServiceContainer(), pool)
  const operation = operationIn(container)
  // Koa and Hono run disposers outside the request's async context: a cleanup through the handle is still the request's.
  await operation.mongodb.collection('outside_run').insertOne({ at: 'dispose' })
  const lease = await pool.acquire()
  const waiting = operation.mongodb.collection('outside_run').countDocuments({})
  lease.release()
  assert.is(await waiting, 1)
  assert.equal(owners, ['req-1', undefined, 'req-1'])
  off()
  await operation.dispose()
  await container.dispose()
})

Handle('a waiting operation of the handle leaves the queue when its operation aborts', async (context) => {
  const pool = openPool(context.target, { dbName: DB, maxSize: 1 })
  context.pools.push(pool)
  const container = createServiceContainer()
  registerMongo(container, pool)
  const client = new AbortController()
  const operation = operationIn(container, client.signal)
  const lease = await pool.acquire()
  try {
    // Called outside run(): the handle still waits on its own operation's signal.
    const waiting = operation.mongodb.collection('orders').findOne({})
    await sleep(20)
    client.abort()
    await rejects(waiting, OperationAbortedError, 'ERR_OPERATION_ABORTED')
  } finally {
    lease.release()
    await operation.dispose()
  }
})

Handle('cursors take a slot per fetch, so a loop body may use the pool even when it is full', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, maxSize: 1, acquireTimeoutMillis: 1000, events: recorder.listeners })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  const source = handle.collection('source')
  await source.insertMany([{ n: 1 }, { n: 2 }, { n: 3 }])
  const copies = handle.collection('copies')
  for await (const doc of source.find({}).sort({ n: 1 })) {
    await copies.insertOne({ n: doc['n'] })
  }
  assert.equal((await copies.find({}).sort({ n: -1 }).limit(2).toArray()).map((d) => d['n']), [3, 2])
  const next = source.find({}).sort({ n: 1 })
  assert.equal(await next.next().then((d) => d?.['n']), 1)
  const acquires = recorder.of('acquire').length
  assert.equal(await next.next().then((d) => d?.['n']), 2, 'a buffered document')
  assert.is(recorder.of('acquire').length, acquires, 'served from the buffer without a slot')
  await next.close()
  await handle.dispose()
})

Handle('db(name) reaches another database through the same pool and admission', async (context) => {
  const recorder = recordEvents()
  const pool = openPool(context.target, { dbName: DB, events: recorder.listeners })
  context.pools.push(pool)
  const handle = createMongoHandle(pool)
  const other = handle.db(`${DB}_other`)
  assert.is(other.databaseName, `${DB}_other`)
  await other.collection('things').insertOne({ x: 1 })
  assert.is((await context.target.documents(`${DB}_other.things`)).length, 1)
  assert.is(recorder.of('acquire').length, 1)
  await other.dropDatabase()
  await handle.dispose()
  await pool.close()
  await context.target.waitForPoolConnections(appNameOf(pool), 0)
})

Handle.run()
