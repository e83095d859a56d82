import { fileURLToPath } from 'node:url'
import { scratchName, watchProcess, type WatchedProcess } from '@lifeguard/test-kit'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { adminQuery, databaseUrl, waitForConnectionCount } from './_helpers/postgres.js'
import { createTestQueue, redisUrl } from './_helpers/queue.js'

// The worker under `npm start`, its shutdown held by a job that waits on a table lock for longer than the drain
// (15 s by default) lasts in the test: only a second signal can end it early.
const root = fileURLToPath(new URL('../../..', import.meta.url))
const schema = scratchName('job_worker_force')
const applicationName = schema.replaceAll('_', '-')
let worker: WatchedProcess | undefined
let blocker: pg.Client | undefined
let queue: ReturnType<typeof createTestQueue<{ orderId: string; amountCents: number }>> | undefined

const Force = suite('job-worker forced shutdown')

Force.after.each(async () => {
  await worker?.stop('SIGKILL')
  await blocker?.query('ROLLBACK').catch(() => undefined)
  await blocker?.end().catch(() => undefined)
  await queue?.cleanup()
  worker = blocker = queue = undefined
})

Force.after(async () => {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

/** `npm start` of the worker, with a job of it waiting in PostgreSQL on a lock the test holds. */
async function startWithJobHeld(options: { ownProcessGroup?: boolean } = {}): Promise<WatchedProcess> {
  queue = createTestQueue<{ orderId: string; amountCents: number }>()
  const started = watchProcess('npm', ['start', '-w', '@lifeguard-examples/job-worker'], {
    cwd: root,
    asFromShell: true,
    ownProcessGroup: options.ownProcessGroup === true,
    env: { QUEUE: queue.name, DB_SCHEMA: schema, APP_NAME: applicationName, REDIS_URL: redisUrl, DATABASE_URL: databaseUrl },
  })
  worker = started
  await started.waitFor(/stop with Ctrl-C/, 60_000)
  blocker = new pg.Client({ connectionString: databaseUrl, application_name: `${applicationName}-blocker` })
  await blocker.connect()
  await blocker.query('BEGIN')
  await blocker.query(`LOCK TABLE "${schema}".payments IN ACCESS EXCLUSIVE MODE`)
  await queue.queue.add('charge', { orderId: 'o-held', amountCents: 500 })
  const deadline = Date.now() + 10_000
  while ((await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'", [applicationName])).length === 0) {
    if (Date.now() >= deadline) throw new Error(`The job did not reach the lock. Output:\n${started.output()}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return started
}

/** How the process ended, or `'still running'` when it has not within `timeoutMillis`. */
function exitWithin<T>(exited: Promise<T>, timeoutMillis: number): Promise<T | 'still running'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'still running'>((resolve) => (timer = setTimeout(() => resolve('still running'), timeoutMillis)))
  return Promise.race([exited, late]).finally(() => clearTimeout(timer))
}

Force('a second SIGTERM to `npm start`, once the shutdown has run a moment, stops at once: one line says so, exit 1', async () => {
  const run = await startWithJobHeld()
  run.child.kill('SIGTERM') // npm, which passes each signal on
  await run.waitFor(/SIGTERM received: finishing active jobs/, 5_000)
  await run.waitFor(/press Ctrl-C again \(or send another SIGTERM\) to stop at once/, 5_000)
  assert.is(run.child.exitCode, null, 'the job holds the drain')
  run.child.kill('SIGTERM')
  // Before, the repeat was ignored and the job had the whole drain.
  assert.equal(await exitWithin(run.exited, 5_000), { code: 1, signal: null }, run.output())
  assert.match(run.output(), 'SIGTERM received while shutting down: shutdown forced, leaving 1 job(s) unfinished; exiting 1')
  assert.not.match(run.output(), 'stopped cleanly')
  await blocker?.query('ROLLBACK')
  assert.is(await waitForConnectionCount(applicationName, 0), 0, 'no session of the worker is left')
})

Force('Ctrl-C (SIGINT to the whole process group: the worker gets it directly and relayed by npm) is one signal: the job finishes, exit 0', async () => {
  const run = await startWithJobHeld({ ownProcessGroup: true })
  process.kill(-(run.child.pid as number), 'SIGINT')
  // Past the grace and still draining: the relayed copy did not force anything.
  await run.waitFor(/press Ctrl-C again/, 5_000)
  assert.is(run.child.exitCode, null, 'still draining')
  await blocker?.query('COMMIT')
  assert.equal(await exitWithin(run.exited, 15_000), { code: 0, signal: null }, run.output())
  assert.match(run.output(), /job \d+ \(charge\) done/)
  assert.is(run.output().split('SIGINT received').length - 1, 1, 'one shutdown')
  assert.not.match(run.output(), 'forced')
})

Force.run()
