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

const printableId = /^[\x20-\x7e]{1,256}$/

/**
 * A BullMQ `Worker` that runs every job as a Lifeguard operation: `runOperation(handlerName, job.name, ...)`
 * with its own scope, the job id as request id (when it can be one), and BullMQ's cancellation signal linked to
 * `context.signal`. The scope is disposed when the job ends, successfully or not, so whatever the job
 * checked out (PostgreSQL clients, open transactions) is given back before BullMQ records the result.
 *
 * @throws {Error} synchronously for a missing queue name, no handlers, a `handlerName` that is not 1 to 256
 *   printable ASCII characters, or a `deadlineMillis` that is not a timer's duration
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
  // Checked here, not by every job's operation: a bad one would fail each job on every attempt.
  if (typeof handlerName !== 'string' || !printableId.test(handlerName)) throw new Error('Could not create the job worker. Expected `handlerName` to be 1 to 256 printable ASCII characters.')
  if (deadlineMillis !== undefined && !(Number.isInteger(deadlineMillis) && deadlineMillis >= 1 && deadlineMillis <= 2 ** 31 - 1)) {
    throw new Error(`Could not create the job worker. Expected \`deadlineMillis\` to be an integer from 1 to ${2 ** 31 - 1}, got ${String(deadlineMillis)}.`)
  }

  return new Worker(
    queueName,
    async function processJob(job: Job, _token?: string, signal?: AbortSignal) {
      const handler = Object.hasOwn(handlers, job.name) ? handlers[job.name] : undefined
      if (handler === undefined) throw new Error(`Could not run job '${job.name}' (${job.id ?? '?'}). No handler is registered for it; known: ${Object.keys(handlers).join(', ')}.`)
      return runOperation(handlerName, job.name, (context) => handler(job.data, context, job), {
        container,
        // A custom job id BullMQ takes but no request id can be (past 256 characters, control characters):
        // the job runs without one rather than failing on every attempt.
        requestId: job.id !== undefined && printableId.test(job.id) ? job.id : undefined,
        signal,
        deadlineMillis,
      })
    },
    { connection, concurrency, autorun, ...(prefix === undefined ? {} : { prefix }) },
  )
}
