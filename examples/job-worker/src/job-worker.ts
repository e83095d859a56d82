import { Worker, type ConnectionOptions, type Job } from 'bullmq'
import { runOperation, type OperationContext, type ServiceContainer } from '@lifeguard/core'

/** Handles one job kind; runs inside the job's own operation, so `context` (and `OperationContext.current()`) is the job's. */
export type JobHandler<D = any, R = unknown> = (data: D, context: OperationContext, job: Job<D>) => R | Promise<R>

/** Options of `createJobWorker()`. */
export interface JobWorkerOptions {
  /** The BullMQ queue to take jobs from. */
  queueName: string
  /** Redis connection (see `createRedisConnection`); the worker duplicates it for its blocking reads. */
  connection: ConnectionOptions
  /** Every job gets its own scope of this container, disposed when the job ends. */
  container: ServiceContainer<any>
  /** One handler per job name; a job with no handler fails with a clear error. */
  handlers: Readonly<Record<string, JobHandler>>
  /** `OperationContext.handler` of every job; default `'job-worker'`. */
  handlerName?: string
  /** Jobs processed at once; default 4. Keep it at or below the pool's `maxSize`. */
  concurrency?: number
  /**
   * Abort a job after this long: its waits for a connection end, and its statements through
   * `context.postgres` are cancelled on the server (a transaction rolled back). Work that does not go through
   * the context (a client of its own, a fetch) sees `context.signal` only if the job passes it on.
   */
  deadlineMillis?: number
  /** BullMQ key prefix; default `'bull'`. */
  prefix?: string
  /** Start taking jobs at once (default) or wait for `worker.run()`. */
  autorun?: boolean
}

/**
 * A BullMQ `Worker` that runs every job as a Lifeguard operation: `runOperation(handlerName, job.name, ...)`
 * with its own scope, the job id as request id, and BullMQ's cancellation signal linked to
 * `context.signal`. The scope is disposed when the job ends, successfully or not, so whatever the job
 * checked out (PostgreSQL clients, open transactions) is given back before BullMQ records the result.
 *
 * @throws {Error} synchronously for a missing queue name or no handlers
 * @example
 * const worker = createJobWorker({
 *   queueName: 'billing',
 *   connection: createRedisConnection(),
 *   container,
 *   handlers: { charge: (data, context) => context.postgres.query('UPDATE invoices SET paid = true WHERE id = $1', [data.invoiceId]) },
 * })
 */
export function createJobWorker(options: JobWorkerOptions): Worker {
  const { queueName, connection, container, handlers, handlerName = 'job-worker', concurrency = 4, deadlineMillis, prefix, autorun = true } = options
  if (typeof queueName !== 'string' || queueName === '') throw new Error('Could not create the job worker. Expected `queueName` to be a non-empty string.')
  if (Object.keys(handlers).length === 0) throw new Error('Could not create the job worker. Expected at least one handler in `handlers`.')

  return new Worker(
    queueName,
    async function processJob(job: Job, _token?: string, signal?: AbortSignal) {
      const handler = Object.hasOwn(handlers, job.name) ? handlers[job.name] : undefined
      if (handler === undefined) throw new Error(`Could not run job '${job.name}' (${job.id ?? '?'}). No handler is registered for it; known: ${Object.keys(handlers).join(', ')}.`)
      return runOperation(handlerName, job.name, (context) => handler(job.data, context, job), {
        container,
        requestId: job.id,
        signal,
        deadlineMillis,
      })
    },
    { connection, concurrency, autorun, ...(prefix === undefined ? {} : { prefix }) },
  )
}
