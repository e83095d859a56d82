// A background worker: takes `charge` jobs from a BullMQ queue in Redis and runs each as a Lifeguard
// operation with its own scope and PostgreSQL handle.
//
//   npm start -w @lifeguard-examples/job-worker              work until SIGTERM / Ctrl-C
//   npm start -w @lifeguard-examples/job-worker -- --demo 5  also enqueue 5 demo jobs
//
// REDIS_URL (default redis://127.0.0.1:6379), DATABASE_URL (default: the PG* variables, then
// postgres://postgres@127.0.0.1:5432/test), QUEUE (default billing), CONCURRENCY (default 4), DB_SCHEMA
// (default job_worker), APP_NAME (default job-worker), REDIS_CONNECT_ATTEMPTS (default 10), DRAIN_MILLIS
// (default 15000: at shutdown, how long jobs in progress get before they are cancelled).
import { createPoolRegistry, createServiceContainer, runOperation, type PoolRegistry, type ServiceContainer } from '@lifeguard/core'
import { redactConnectionString } from '@lifeguard/core/adapter'
import { createPostgresPool, registerPostgres } from '@lifeguard/postgres'
import { Queue, type Worker } from 'bullmq'
import type { Redis } from 'ioredis'
import { billingJobs, migrateBilling, type ChargeJob } from './billing-jobs.js'
import { loadConfig, type WorkerConfig } from './config.js'
import { createJobWorker } from './job-worker.js'
import { outageLog } from './outage-log.js'
import { createRedisConnection, waitForRedis } from './redis.js'
import { onShutdownSignal } from './shutdown.js'

const log = (line: string): void => void process.stdout.write(`[job-worker] ${line}\n`)
let demoJobs = 0
/** Longest wait for the jobs in progress, the Redis connection and the pool at shutdown. */
const shutdownTimeoutMillis = 30_000

interface Running {
  registry: PoolRegistry
  worker?: Worker
  connection?: Redis
  /** Every job runs in a scope of it: its open scopes are the jobs still running. */
  container?: ServiceContainer<any>
  /**
   * Resolves `'clean'`, or what keeps the process from ending by itself: a job that ignored its cancellation,
   * or a queue connection that could not close (Redis unreachable).
   */
  close(): Promise<'clean' | 'job-left' | 'queue-unreachable'>
}

async function start(config: WorkerConfig, running: Running, stopping: AbortSignal): Promise<void> {
  const pool = running.registry.register(
    createPostgresPool({ name: 'billing', connectionString: config.databaseUrl, applicationName: config.applicationName, minSize: 1, maxSize: config.concurrency }),
  )
  const container = registerPostgres(createServiceContainer({ onError: (error) => log(`dispose failed: ${String(error)}`) }), pool)
  running.container = container
  await waitForRedis(config.redisUrl, { attempts: config.redisConnectAttempts, log, signal: stopping })
  await running.registry.warmup()
  stopping.throwIfAborted()
  // Under the stop signal: a migration waiting on another instance's lock ends with it.
  await runOperation('job-worker', 'migrate', (context) => migrateBilling(context.postgres, config.schema), { container, signal: stopping })
  // A signal meanwhile: take no job.
  stopping.throwIfAborted()

  running.connection = createRedisConnection(config.redisUrl)
  const worker = createJobWorker({ queueName: config.queueName, connection: running.connection, container, concurrency: config.concurrency, handlers: billingJobs(config.schema) })
  running.worker = worker
  worker.on('completed', (job, result) => log(`job ${job.id} (${job.name}) done: ${JSON.stringify(result)}`))
  worker.on('failed', (job, error) => log(`job ${job?.id ?? '?'} (${job?.name ?? '?'}) failed: ${error.message}`))
  const errors = outageLog(log)
  worker.on('error', errors.failed)
  running.connection.on('ready', errors.recovered)
  await worker.waitUntilReady()
  log(`taking '${config.queueName}' jobs from ${redactConnectionString(config.redisUrl)} (concurrency ${config.concurrency}); PostgreSQL at ${pool.target}`)

  // A signal while the worker got ready: no demo jobs left behind in the queue for the next run.
  stopping.throwIfAborted()
  if (demoJobs > 0) {
    const producerConnection = createRedisConnection(config.redisUrl)
    const queue = new Queue<ChargeJob>(config.queueName, { connection: producerConnection })
    for (let i = 1; i <= demoJobs && !stopping.aborted; i++) {
      await queue.add('charge', { orderId: `demo-${i}`, amountCents: 100 * i }, { attempts: 3, backoff: { type: 'exponential', delay: 500 }, removeOnComplete: 100 })
    }
    await queue.close()
    await producerConnection.quit()
    log(stopping.aborted ? 'stopped enqueueing demo jobs: stopping' : `enqueued ${demoJobs} demo job(s)`)
  }
  log('stop with Ctrl-C (or SIGTERM)')
}

/** `--demo N` (1 to 1000; 3 when no number follows), or 0 without `--demo`. @throws {Error} naming a bad N */
function demoJobCount(argv: readonly string[]): number {
  const index = argv.indexOf('--demo')
  if (index === -1) return 0
  const value = argv[index + 1]
  if (value === undefined || value.startsWith('--')) return 3
  const count = /^\d{1,4}$/.test(value) ? Number(value) : Number.NaN
  if (!Number.isInteger(count) || count < 1 || count > 1000) throw new Error(`--demo takes a number of jobs from 1 to 1000, got ${JSON.stringify(value)}.`)
  return count
}

// `quit()` waits for Redis to answer, which a Redis that is down never does.
async function closeRedis(connection: Redis | undefined): Promise<void> {
  if (connection === undefined) return
  if (connection.status === 'ready' && (await settlesWithin(connection.quit(), 2_000))) return
  connection.disconnect()
}

/** True when `promise` settled (either way) within `millis`. */
function settlesWithin(promise: Promise<unknown>, millis: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), millis)))
  return Promise.race([promise.then(() => true, () => true), late]).finally(() => clearTimeout(timer))
}

function main(): void {
  // Output may have nowhere to go (Ctrl-C on `npm start | tee log` ends `tee` too; a closed terminal): an
  // unheard write error would crash the shutdown at its first log line, its jobs left stalled in the queue.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined)
  let config: WorkerConfig
  try {
    config = loadConfig()
    demoJobs = demoJobCount(process.argv)
  } catch (error) {
    log(`could not start: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  }
  const running: Running = {
    registry: createPoolRegistry(),
    async close() {
      // The jobs in progress get DRAIN_MILLIS to finish: BullMQ's `close()` waits for them (one close: BullMQ
      // answers a second call, forced or not, with the first one's promise). With Redis down there is nothing
      // to drain for: `close()` would wait on it for good.
      const closing = running.worker?.close()
      const drained = closing === undefined || (await settlesWithin(closing, running.connection?.status === 'ready' ? config.drainMillis : 2_000))
      const jobsRunning = (running.container?.openScopes ?? 0) > 0
      if (!drained && jobsRunning) {
        // Their `context.signal` aborts; a cancelled job fails as one that threw, and BullMQ retries it while
        // it has attempts left.
        log('jobs still running after the drain: cancelling them')
        running.worker?.cancelAllJobs('the worker is shutting down')
      }
      // Takes back what cancelled jobs hold, cancelling on the server a statement one still runs (a job
      // waiting on a lock, say), so that they can end.
      await running.registry.close({ timeoutMillis: drained ? 5_000 : 1_000 })
      // Not closed: a job ignores its cancellation, or the queue connection waits for Redis; either way
      // BullMQ's and ioredis's timers would hold the process.
      const closed = drained || (await settlesWithin(closing, 2_000))
      // No job was running (no open operation scope) and the close still did not end: what holds it is the queue
      // connection (Redis unreachable), not a job. Not said from the drain alone: a close that merely took
      // longer than DRAIN_MILLIS (0 is allowed) has ended by now.
      if (!closed && !jobsRunning) log('the queue connection did not close (Redis unreachable?); no job was running')
      await closeRedis(running.connection)
      const outcome = closed ? 'clean' : (running.container?.openScopes ?? 0) > 0 ? 'job-left' : 'queue-unreachable'
      // The container last: its singletons, and the scope of any job left, with their disposers run (a failure
      // goes to its onError), bounded as everything else here.
      if (running.container !== undefined) await settlesWithin(running.container.dispose(), 2_000)
      return outcome
    },
  }
  // A signal during start-up ends the wait for Redis at once, rather than after every attempt.
  const startup = new AbortController()
  const started = start(config, running, startup.signal)

  // Registered before start-up finishes, so a signal during start-up still closes what was opened.
  let stopping = false
  const escalation = onShutdownSignal(
    {
      force(why) {
        // Only what is true of every job left: each stays active in Redis until its lock expires (30 s), and
        // then a worker's stalled-job check runs it again, or fails it as stalled once it has stalled more than
        // BullMQ's `maxStalledCount` (default 1). Its session ends with the process, and the server rolls back
        // what it had open; but a statement waiting on a lock is not cancelled (the server sees the closed
        // connection only when it next writes to it): once the lock is free it runs, and outside a transaction
        // it commits. Hence a handler that can run twice (the `charge` job's ON CONFLICT DO NOTHING).
        // Until the worker exists, the only open scope is the start-up's migration: no job.
        const left = running.worker === undefined ? ' during start-up' : `, leaving ${running.container?.openScopes ?? 0} job(s) unfinished`
        log(`${why} while shutting down: shutdown forced${left}; exiting 1`)
        process.exit(1)
      },
      shutdown(why) {
        stopping = true
        startup.abort(new Error(why))
        log(`${why}: finishing active jobs, then closing`)
        const deadline = setTimeout(() => {
          log(`shutdown did not finish within ${shutdownTimeoutMillis}ms: exiting anyway`)
          process.exit(1)
        }, shutdownTimeoutMillis).unref()
        void started
          .catch(() => undefined)
          .then(() => running.close())
          .then(
            (outcome) => {
              clearTimeout(deadline)
              escalation.settle()
              log(outcome === 'clean' ? 'stopped cleanly' : outcome === 'job-left' ? 'stopped; a job that ignored its cancellation was left running' : 'stopped; the queue connection could not close (Redis unreachable)')
              // A job left running is work abandoned: a supervisor must be able to tell that from a clean stop. (A
              // queue connection that could not close left nothing undone.)
              process.exitCode = outcome === 'job-left' ? 1 : 0
              // What is left (a job, a connection retrying) would hold the process through BullMQ's timers.
              if (outcome !== 'clean') process.exit()
            },
            (error: unknown) => {
              escalation.settle()
              log(`shutdown failed: ${error instanceof Error ? error.message : String(error)}`)
              process.exit(1)
            },
          )
      },
    },
    log,
  )

  started.catch(async (error: unknown) => {
    if (stopping) return
    log(`could not start: ${error instanceof Error ? error.message : String(error)}`)
    if (error instanceof AggregateError) for (const cause of error.errors) log(`  ${cause instanceof Error ? cause.message : String(cause)}`)
    await running.close().catch(() => undefined)
    process.exit(1)
  })
}

main()
