import { createPoolRegistry, createServiceContainer, OperationContext, type PoolRegistry, type ServiceContainer } from '@lifeguard/core'
import { createPostgresPool, registerPostgres, type PostgresPool } from '@lifeguard/postgres'
import type { Worker } from 'bullmq'
import { scratchName } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createJobWorker, type JobHandler } from '../src/job-worker.js'
import { createRedisConnection } from '../src/redis.js'
import { adminQuery, databaseUrl, waitForConnectionCount } from './_helpers/postgres.js'
import { createTestQueue, followOutcomes, redisKeys, redisUrl, type Outcomes } from './_helpers/queue.js'

const applicationName = `job-worker-test-${process.pid}`
const schema = scratchName('job_worker')

/** A scoped service that notes when its scope disposes it. */
class Probe {
  static created: Probe[] = []
  readonly id = Probe.created.length + 1
  disposed = false
  constructor() {
    Probe.created.push(this)
  }
  async [Symbol.asyncDispose](): Promise<void> {
    this.disposed = true
  }
}

let registry: PoolRegistry
let pool: PostgresPool
let container: ServiceContainer<any>
const disposeErrors: unknown[] = []

/** Runs `body` with a worker on a fresh queue; afterwards closes everything and checks the queue left no key in Redis. */
async function withWorker(handlers: Record<string, JobHandler>, body: (queue: ReturnType<typeof createTestQueue>['queue'], outcomes: Outcomes) => Promise<void>, concurrency = 4): Promise<void> {
  const test = createTestQueue()
  const connection = createRedisConnection(redisUrl)
  const errors: Error[] = []
  let worker: Worker | undefined
  try {
    worker = createJobWorker({ queueName: test.name, connection, container, handlers, concurrency })
    worker.on('error', (error) => errors.push(error))
    const outcomes = followOutcomes(worker)
    await worker.waitUntilReady()
    await body(test.queue, outcomes)
  } finally {
    await worker?.close()
    await connection.quit()
    await test.cleanup()
  }
  assert.equal(errors, [], 'the worker reported no error')
  assert.equal(await redisKeys(`bull:${test.name}:*`), [], 'every key of the queue was removed')
}

const Worker_ = suite('createJobWorker')

Worker_.before(async () => {
  registry = createPoolRegistry()
  pool = registry.register(createPostgresPool({ name: 'jobs', connectionString: databaseUrl, applicationName, minSize: 0, maxSize: 4 }))
  container = registerPostgres(createServiceContainer({ onError: (error) => disposeErrors.push(error) }), pool).scoped('probe', () => new Probe())
  await adminQuery(`CREATE SCHEMA "${schema}"`)
  await adminQuery(`CREATE TABLE "${schema}".charges (job_id text PRIMARY KEY)`)
})

Worker_.after(async () => {
  await registry.close().catch(() => undefined)
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

Worker_('runs each job in its own operation, with its own scope and PostgreSQL handle', async () => {
  const seen: Array<{ context: OperationContext; probe: Probe; currentAfterAwait: boolean; n: number }> = []
  const handlers: Record<string, JobHandler> = {
    record: async (data: { n: number }, context) => {
      const probe = context.get<Probe>('probe')
      const { rows } = await context.postgres.query<{ n: number }>('SELECT $1::int AS n, pg_sleep(0.02)', [data.n])
      seen.push({ context, probe, currentAfterAwait: OperationContext.current() === context, n: rows[0]!.n })
      return { n: rows[0]!.n }
    },
  }
  await withWorker(handlers, async (queue, outcomes) => {
    const jobs = await Promise.all([1, 2, 3].map((n) => queue.add('record', { n })))
    const results = await Promise.all(jobs.map((job) => outcomes.settled(String(job.id))))
    assert.equal(results.map((r) => r.result), [{ n: 1 }, { n: 2 }, { n: 3 }])
  })

  assert.is(seen.length, 3)
  for (const { context, probe, currentAfterAwait } of seen) {
    assert.is(context.handler, 'job-worker')
    assert.is(context.operation, 'record')
    assert.ok(currentAfterAwait, 'OperationContext.current() is the job context after an await')
    assert.ok(context.disposed, 'the operation was disposed when the job ended')
    assert.ok(probe.disposed, 'the scoped service was disposed with the job')
  }
  assert.equal(new Set(seen.map((s) => s.context.requestId)).size, 3, 'each job id is its operation request id')
  assert.equal(new Set(seen.map((s) => s.context.scope)).size, 3, 'one scope per job')
  assert.equal(new Set(seen.map((s) => s.probe)).size, 3, 'one scoped instance per job')
  assert.is(container.openScopes, 0)
  assert.is(pool.getPoolMetrics().activeConnections, 0)
})

Worker_('a custom job id that cannot be a request id still runs its job, without one', async () => {
  const seen: (string | undefined)[] = []
  await withWorker({ record: (_data, context) => void seen.push(context.requestId) }, async (queue, outcomes) => {
    const jobId = `order-${'9'.repeat(300)}`
    await queue.add('record', {}, { jobId })
    assert.is((await outcomes.settled(jobId)).error, undefined, 'it ran')
  })
  assert.equal(seen, [undefined])
})

Worker_('refuses a handlerName or deadlineMillis every job would fail on, when it is created', () => {
  const base = { queueName: 'never-used', connection: {}, container: createServiceContainer(), handlers: { record: () => undefined } }
  assert.throws(() => createJobWorker({ ...base, handlerName: 'billing\n' }), /Expected `handlerName` to be 1 to 256 printable ASCII characters/)
  assert.throws(() => createJobWorker({ ...base, deadlineMillis: 0 }), /Expected `deadlineMillis` to be an integer from 1 to 2147483647, got 0/)
})

Worker_('a failing job still disposes its scope and gives back its PostgreSQL client, rolled back', async () => {
  let probe: Probe | undefined
  let context: OperationContext | undefined
  const handlers: Record<string, JobHandler> = {
    charge: async (_data, ctx, job) => {
      context = ctx
      probe = ctx.get<Probe>('probe')
      // Held on purpose and never released by the handler: disposal has to give it back.
      const client = await ctx.postgres.connect()
      await client.query('BEGIN')
      await client.query(`INSERT INTO "${schema}".charges (job_id) VALUES ($1)`, [job.id])
      throw new Error('card declined')
    },
  }
  await withWorker(handlers, async (queue, outcomes) => {
    const job = await queue.add('charge', {}, { attempts: 1 })
    const outcome = await outcomes.settled(String(job.id))
    assert.instance(outcome.error, Error)
    assert.is(outcome.error?.message, 'card declined')
    assert.is((await queue.getJob(String(job.id)))?.failedReason, 'card declined')
  })

  assert.ok(context?.disposed, 'the operation was disposed')
  assert.ok(probe?.disposed, 'the scoped service was disposed')
  assert.is(container.openScopes, 0)
  assert.is(pool.getPoolMetrics().activeConnections, 0, 'the held client went back to the pool')
  assert.equal(await adminQuery(`SELECT job_id FROM "${schema}".charges`), [], 'the open transaction was rolled back')
  assert.equal(disposeErrors, [])
})

Worker_('fails a job that has no handler, naming it and the known ones', async () => {
  await withWorker({ record: () => 'ok' }, async (queue, outcomes) => {
    const job = await queue.add('refund', {})
    const outcome = await outcomes.settled(String(job.id))
    assert.match(outcome.error?.message ?? '', "Could not run job 'refund'")
    assert.match(outcome.error?.message ?? '', 'known: record')
  })
  assert.is(container.openScopes, 0)
})

Worker_('leaves no PostgreSQL connection behind once the pool is closed', async () => {
  await registry.close()
  assert.is(await waitForConnectionCount(applicationName, 0), 0)
  assert.equal(await redisKeys(`bull:lifeguard-test-${process.pid}-*`), [], 'no queue of this run left any key')
})

Worker_.run()
