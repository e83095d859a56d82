// A background worker: takes `charge` jobs from a BullMQ queue in Redis and runs each as a Lifeguard
// operation with its own scope and PostgreSQL handle.
//
//   npm start -w @lifeguard-examples/job-worker              work until SIGTERM / Ctrl-C
//   npm start -w @lifeguard-examples/job-worker -- --demo 5  also enqueue 5 demo jobs
//
// REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL (default: the PG* variables, then
// postgres://postgres@127.0.0.1:5432/test), QUEUE (default billing), CONCURRENCY (default 4).
import { createPoolRegistry, createServiceContainer, runOperation } from '@lifeguard/core'
import { redactConnectionString } from '@lifeguard/core/adapter'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { Queue } from 'bullmq'
import { billingJobs, migrateBilling, type ChargeJob } from './billing-jobs.js'
import { createJobWorker } from './job-worker.js'
import { createRedisConnection } from './redis.js'

const log = (line: string): void => void process.stdout.write(`[job-worker] ${line}\n`)
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const databaseUrl = process.env.DATABASE_URL ?? `postgres://${process.env.PGUSER ?? 'postgres'}@${process.env.PGHOST ?? '127.0.0.1'}:${process.env.PGPORT ?? '5432'}/${process.env.PGDATABASE ?? 'test'}`
const queueName = process.env.QUEUE ?? 'billing'
const concurrency = Number(process.env.CONCURRENCY ?? 4)
const schema = 'job_worker'
const demoIndex = process.argv.indexOf('--demo')
const demoJobs = demoIndex === -1 ? 0 : Number(process.argv[demoIndex + 1] ?? 3)

const registry = createPoolRegistry()
const pool = registry.register(
  createPostgresPool({ name: 'billing', connectionString: databaseUrl, applicationName: 'job-worker', minSize: 1, maxSize: concurrency }),
)
const container = registerPostgres(createServiceContainer({ onError: (error) => log(`dispose failed: ${String(error)}`) }), pool)

async function main(): Promise<void> {
  await registry.warmup()
  await runOperation('job-worker', 'migrate', (context) => migrateBilling(context.postgres, schema), { container })

  const connection = createRedisConnection(redisUrl)
  const worker = createJobWorker({ queueName, connection, container, concurrency, handlers: billingJobs(schema) })
  worker.on('completed', (job, result) => log(`job ${job.id} (${job.name}) done: ${JSON.stringify(result)}`))
  worker.on('failed', (job, error) => log(`job ${job?.id ?? '?'} (${job?.name ?? '?'}) failed: ${error.message}`))
  worker.on('error', (error) => log(`worker error: ${error.message}`))
  await worker.waitUntilReady()
  log(`taking '${queueName}' jobs from ${redactConnectionString(redisUrl)} (concurrency ${concurrency}); PostgreSQL at ${pool.target}`)

  if (demoJobs > 0) {
    const producerConnection = createRedisConnection(redisUrl)
    const queue = new Queue<ChargeJob>(queueName, { connection: producerConnection })
    for (let i = 1; i <= demoJobs; i++) {
      await queue.add('charge', { orderId: `demo-${i}`, amountCents: 100 * i }, { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 100 })
    }
    await queue.close()
    await producerConnection.quit()
    log(`enqueued ${demoJobs} demo job(s)`)
  }

  let stopping = false
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return
      stopping = true
      log(`${signal} received: finishing active jobs, then closing`)
      void (async () => {
        await worker.close() // waits for the jobs in progress
        await connection.quit()
        await registry.close({ timeoutMillis: 10_000 })
        await container.dispose()
        log('stopped cleanly')
      })().catch((error: unknown) => {
        log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
        process.exitCode = 1
      })
    })
  }
}

main().catch(async (error: unknown) => {
  log(`could not start: ${error instanceof Error ? error.message : String(error)}`)
  if (error instanceof AggregateError) for (const cause of error.errors) log(`  ${cause instanceof Error ? cause.message : String(cause)}`)
  await registry.close().catch(() => undefined)
  process.exit(1)
})
