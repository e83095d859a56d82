import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { closedPort, scratchName, watchProcess, type WatchedProcess } from '@lifeguard/test-kit'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { adminQuery, databaseUrl, waitForConnectionCount } from './_helpers/postgres.js'
import { createTestQueue, redisUrl } from './_helpers/queue.js'

// The worker as its README runs it: `npm start -w @lifeguard-examples/job-worker`, and what `docker stop`
// or a process manager then does: SIGTERM to that npm process.
const root = fileURLToPath(new URL('../../..', import.meta.url))
const exampleDir = fileURLToPath(new URL('..', import.meta.url))
const schema = scratchName('job_worker_main')
const applicationName = schema.replaceAll('_', '-')
let worker: WatchedProcess | undefined

const Main = suite('job-worker main')

Main.after(async () => {
  await worker?.stop('SIGKILL')
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

/** Polls until `check` is true or `timeoutMillis` passes; returns its last answer. */
async function eventually(check: () => Promise<boolean>, timeoutMillis = 10_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis
  while (!(await check())) {
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return true
}

/** `npm start` of the worker on `queue`, once it takes jobs. */
async function startWorker(queue: string, env: Record<string, string> = {}): Promise<WatchedProcess> {
  const started = watchProcess('npm', ['start', '-w', '@lifeguard-examples/job-worker'], {
    cwd: root,
    asFromShell: true,
    env: { QUEUE: queue, DB_SCHEMA: schema, APP_NAME: applicationName, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, ...env },
  })
  try {
    await started.waitFor(/stop with Ctrl-C/, 60_000)
  } catch (error) {
    await started.stop('SIGKILL')
    throw error
  }
  return started
}

Main('SIGTERM to `npm start` lets the job in progress finish, closes Redis and the pool, and exits 0', async () => {
  const test = createTestQueue<{ orderId: string; amountCents: number }>()
  const blocker = new pg.Client({ connectionString: databaseUrl, application_name: `${applicationName}-blocker` })
  try {
    worker = await startWorker(test.name)

    // Hold the payments table, so that the job is provably in progress (waiting in PostgreSQL) at the signal.
    await blocker.connect()
    await blocker.query('BEGIN')
    await blocker.query(`LOCK TABLE "${schema}".payments IN ACCESS EXCLUSIVE MODE`)
    const job = await test.queue.add('charge', { orderId: 'o-1', amountCents: 500 })
    const waiting = await eventually(async () => {
      const rows = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [applicationName])
      return rows.length > 0
    })
    assert.ok(waiting, 'the job reached PostgreSQL and waits on the lock')

    worker.child.kill('SIGTERM') // the npm process
    await worker.waitFor(/SIGTERM received/, 10_000)
    assert.is(worker.child.exitCode, null, 'still running while a job is in progress')
    await blocker.query('COMMIT')

    assert.equal(await worker.exited, { code: 0, signal: null }, 'npm start exits 0')
    assert.match(worker.output(), `job ${job.id} (charge) done`)
    assert.match(worker.output(), 'stopped cleanly')
    assert.is(await (await test.queue.getJob(String(job.id)))?.getState(), 'completed')
    assert.equal(await adminQuery(`SELECT order_id FROM "${schema}".payments`), [{ order_id: 'o-1' }])
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    await blocker.end().catch(() => undefined)
    await test.cleanup()
  }
})

Main('a job still running after the drain is cancelled: its statement ends on the server and the worker exits 0', async () => {
  const test = createTestQueue<{ orderId: string; amountCents: number }>()
  const blocker = new pg.Client({ connectionString: databaseUrl, application_name: `${applicationName}-blocker` })
  try {
    worker = await startWorker(test.name, { DRAIN_MILLIS: '300' })
    // The lock is held through the whole shutdown: the job can only end by being cancelled.
    await blocker.connect()
    await blocker.query('BEGIN')
    await blocker.query(`LOCK TABLE "${schema}".payments IN ACCESS EXCLUSIVE MODE`)
    await test.queue.add('charge', { orderId: 'o-stuck', amountCents: 500 })
    const waiting = await eventually(async () => {
      const rows = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [applicationName])
      return rows.length > 0
    })
    assert.ok(waiting, 'the job reached PostgreSQL and waits on the lock')

    worker.child.kill('SIGTERM')
    assert.equal(await worker.exited, { code: 0, signal: null }, 'npm start exits 0')
    assert.match(worker.output(), 'jobs still running after the drain: cancelling them')
    assert.match(worker.output(), 'stopped cleanly')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'its statement was cancelled: no session of the worker is left, with the lock still held')
  } finally {
    await blocker.query('ROLLBACK').catch(() => undefined)
    await blocker.end().catch(() => undefined)
    await test.cleanup()
  }
  assert.equal(await adminQuery(`SELECT order_id FROM "${schema}".payments WHERE order_id = 'o-stuck'`), [], 'nothing was charged')
})

Main('DRAIN_MILLIS=0 with Redis up and no job running: SIGTERM stops cleanly and blames no queue connection', async () => {
  const test = createTestQueue<{ orderId: string; amountCents: number }>()
  try {
    worker = await startWorker(test.name, { DRAIN_MILLIS: '0' })
    const exit = await worker.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null }, worker.output())
    assert.match(worker.output(), 'stopped cleanly')
    // Before, a close that took longer than the 0 ms drain was reported as a queue connection that could not close.
    assert.not.match(worker.output(), 'did not close', worker.output())
    assert.not.match(worker.output(), 'cancelling them', 'no job to cancel')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    await test.cleanup()
  }
})

Main('`npm start` killed outright (SIGKILL): the worker notices, stops as on SIGTERM, and leaves no connection', async () => {
  const test = createTestQueue<{ orderId: string; amountCents: number }>()
  try {
    worker = await startWorker(test.name)
    worker.child.kill('SIGKILL') // npm: no signal reaches the worker, which is re-parented
    // Its output still comes through the pipe npm handed it (`waitFor` gives up once npm has exited).
    const output = (worker as WatchedProcess).output
    assert.ok(await eventually(async () => /stopped cleanly/.test(output())), output())
    assert.match(output(), 'npm start is gone: finishing active jobs, then closing')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    await test.cleanup()
  }
})

Main('SIGTERM with Redis gone and no job running says so, blames no job, and exits 0', async () => {
  // A Redis of the test's own (the shared one is never stopped), on a free port, keeping nothing on disk.
  const port = await closedPort()
  const redis = watchProcess('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1'], { cwd: exampleDir })
  try {
    await redis.waitFor(/Ready to accept connections/, 10_000)
    const queue = `${scratchName('jw_redis_gone')}`
    const run = await startWorker(queue, { REDIS_URL: `redis://127.0.0.1:${port}` })
    worker = run
    await redis.stop('SIGKILL')
    // Once the worker has noticed: its close then waits on a connection that will not come back.
    await run.waitFor(/worker error/, 20_000)
    const exit = await run.stop('SIGTERM')
    assert.equal(exit, { code: 0, signal: null }, run.output())
    // BullMQ's close gives up on a Redis that is gone within the 2 s it gets, or not: either way it says which.
    if (!run.output().includes('stopped cleanly')) {
      assert.match(run.output(), 'no job was running', run.output())
      assert.match(run.output(), 'stopped; the queue connection could not close (Redis unreachable)')
    }
    assert.not.match(run.output(), 'cancelling them')
    assert.not.match(run.output(), 'a job that ignored its cancellation')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    await redis.stop('SIGKILL')
  }
})

Main('Redis down for a while, then back: one line for the outage, one for the recovery, and a clean stop', async () => {
  const port = await closedPort()
  const args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1']
  let redis = watchProcess('redis-server', args, { cwd: exampleDir })
  try {
    await redis.waitFor(/Ready to accept connections/, 10_000)
    const run = await startWorker(`${scratchName('jw_redis_back')}`, { REDIS_URL: `redis://127.0.0.1:${port}` })
    worker = run
    await redis.stop('SIGKILL')
    await run.waitFor(/worker error/, 20_000)
    // Every failed reconnect is an error event (several a second); they are counted, not logged.
    redis = watchProcess('redis-server', args, { cwd: exampleDir })
    await redis.waitFor(/Ready to accept connections/, 10_000)
    await run.waitFor(/worker connection back after \d+ error\(s\)/, 20_000)
    const errorLines = run.output().split('\n').filter((line) => line.includes('worker error'))
    assert.is(errorLines.length, 1, run.output())
    assert.equal(await run.stop('SIGTERM'), { code: 0, signal: null }, run.output())
    assert.match(run.output(), 'stopped cleanly')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    await redis.stop('SIGKILL')
  }
})

Main('without Redis it stops after a few attempts, naming Redis and how to start it, with exit code 1', async () => {
  const started = Date.now()
  // Port 1 on loopback: nothing listens there, so every connection is refused at once.
  const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_ATTEMPTS: '3', DB_SCHEMA: schema, APP_NAME: applicationName },
  })
  assert.equal(await run.exited, { code: 1, signal: null })
  assert.match(run.output(), 'Could not reach Redis at redis://127.0.0.1:1 after 3 attempt(s) (ECONNREFUSED)')
  assert.match(run.output(), 'set REDIS_URL')
  assert.ok(Date.now() - started < 30_000, 'gave up instead of retrying forever')
  assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
})

Main('a Redis that accepts connections and never answers: each attempt gives up, and it stops naming Redis, exit 1', async () => {
  // A listener that takes the connection and says nothing (a wrong port, a stuck proxy).
  const silent = createServer(() => undefined)
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve))
  const port = (silent.address() as AddressInfo).port
  try {
    const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: exampleDir,
      env: { REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_ATTEMPTS: '2', DB_SCHEMA: schema, APP_NAME: applicationName },
    })
    // Before, the first attempt waited for good; the bound only ends a failing test.
    const exit = await Promise.race([run.exited, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 60_000).unref())])
    if (exit === 'still waiting') await run.stop('SIGKILL')
    assert.equal(exit, { code: 1, signal: null })
    assert.match(run.output(), `Could not reach Redis at redis://127.0.0.1:${port} after 2 attempt(s) (ETIMEDOUT)`)
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
  } finally {
    silent.close()
  }
})

Main('a signal while it waits for Redis ends the wait at once: no attempt after it, exit 0', async () => {
  const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { REDIS_URL: 'redis://127.0.0.1:1', REDIS_CONNECT_ATTEMPTS: '1000', DB_SCHEMA: schema, APP_NAME: applicationName },
  })
  await run.waitFor(/is not answering/, 30_000)
  run.child.kill('SIGINT')
  assert.equal(await run.exited, { code: 0, signal: null })
  assert.match(run.output(), 'SIGINT received')
  assert.not.match(run.output(), 'Could not reach Redis', 'the attempts left (500 s of them) were not made')
  assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no connection of the worker is left')
})

Main('a signal while the migration waits on another instance’s lock ends it: exit 0, no job taken, no session left', async () => {
  // Another instance migrating the same schema: it holds the migration's lock until the test lets go.
  const other = new pg.Client({ connectionString: databaseUrl, application_name: `${applicationName}-other` })
  const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, QUEUE: scratchName('jw_migrate'), DB_SCHEMA: schema, APP_NAME: applicationName },
  })
  try {
    await other.connect()
    await other.query('BEGIN')
    await other.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`job-worker:migrate:${schema}`])
    const waiting = await eventually(async () => {
      const rows = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'advisory'", [applicationName])
      return rows.length > 0
    }, 30_000)
    assert.ok(waiting, run.output())

    run.child.kill('SIGTERM')
    // Before, the migration waited on the lock until the 30 s shutdown deadline and the worker exited 1.
    const exit = await Promise.race([run.exited, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20_000).unref())])
    assert.equal(exit, { code: 0, signal: null }, run.output())
    assert.not.match(run.output(), 'stop with Ctrl-C', 'took no job')
    assert.is(await waitForConnectionCount(applicationName, 0), 0, 'the waiting statement was cancelled on the server')
  } finally {
    await run.stop('SIGKILL')
    await other.end().catch(() => undefined)
  }
})

Main('--demo with something other than a number of jobs is refused by name, before anything starts', async () => {
  const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts', '--demo', 'abc'], { cwd: exampleDir, env: { APP_NAME: applicationName } })
  assert.equal(await run.exited, { code: 1, signal: null })
  assert.match(run.output(), 'could not start: --demo takes a number of jobs from 1 to 1000, got "abc".')
})

Main('an invalid DATABASE_URL is refused by name, without echoing it', async () => {
  const run = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: exampleDir, env: { DATABASE_URL: 'not-a-url:s3cret' } })
  assert.equal(await run.exited, { code: 1, signal: null })
  assert.match(run.output(), 'DATABASE_URL is not a valid URL: expected postgres://user:password@host:5432/database.')
  assert.not.match(run.output(), 's3cret')
  assert.not.match(run.output(), 'ENOTFOUND')
})

Main.run()
