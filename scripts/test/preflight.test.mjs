import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { pgSettings, preflight, requirementsOf } from '../lib/preflight.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const Preflight = suite('npm test preflight')

/** Runs the test runner as `npm test` would, with `env` changes; it must stop before building anything. */
function runTests(env, ...args) {
  const started = Date.now()
  const result = spawnSync(process.execPath, ['scripts/run-tests.mjs', ...args], { cwd: root, env: { ...process.env, ...env }, encoding: 'utf8', timeout: 60_000 })
  return { ...result, millis: Date.now() - started }
}

Preflight('reads what each package needs from its test files', () => {
  assert.equal([...requirementsOf(root, ['core'])], ['postgres'])
  assert.ok(requirementsOf(root, ['examples/job-worker']).has('redis'))
  assert.ok(requirementsOf(root, ['plugins/otel']).has('promtool'))
  assert.ok(requirementsOf(root, ['adapters/postgres']).has('pgbouncer'))
  assert.ok(requirementsOf(root, ['test-kit']).has('postgres-server-programs'))
})

Preflight('without PostgreSQL the run stops at once with one line naming it and how to start it', () => {
  const run = runTests({ PGPORT: '1' }, '@lifeguard/core')
  assert.is(run.status, 1)
  assert.match(run.stderr, /^Missing: PostgreSQL is not reachable at 127\.0\.0\.1:1 \(ECONNREFUSED\): start it/m)
  assert.is(run.stderr.trim().split('\n').length, 1, 'one line')
  assert.match(run.stdout, /^0 passed, 1 failed$/m)
  assert.not.match(run.stdout, /turbo/, 'nothing was built')
})

Preflight('without Redis the job worker run stops at once, naming Redis', () => {
  const run = runTests({ REDIS_URL: 'redis://127.0.0.1:1' }, 'examples/job-worker')
  assert.is(run.status, 1)
  assert.match(run.stderr, /^Missing: Redis is not reachable at 127\.0\.0\.1:1 \(ECONNREFUSED\): .*start it/m)
})

Preflight('a missing test database is created', async () => {
  const database = `lgtest_preflight_p${process.pid}_0`
  const previous = process.env.PGDATABASE
  process.env.PGDATABASE = database
  try {
    assert.equal(await preflight(['postgres'], pg), [])
    const client = new pg.Client({ ...pgSettings(), application_name: 'lifeguard-preflight-test' })
    await client.connect()
    assert.is((await client.query('SELECT current_database() AS name')).rows[0].name, database)
    await client.end()
  } finally {
    if (previous === undefined) delete process.env.PGDATABASE
    else process.env.PGDATABASE = previous
    const admin = new pg.Client({ ...pgSettings(), database: 'postgres', application_name: 'lifeguard-preflight-test' })
    await admin.connect()
    await admin.query(`DROP DATABASE IF EXISTS "${database}"`)
    await admin.end()
  }
})

Preflight('a missing program is named with how to install it', async () => {
  const path = process.env.PATH
  const pgbouncer = process.env.PGBOUNCER
  process.env.PATH = '/nonexistent'
  process.env.PGBOUNCER = '/nonexistent/pgbouncer'
  try {
    const lines = await preflight(['pgbouncer', 'promtool'], pg)
    assert.equal(lines.length, 2)
    assert.match(lines[0], /^pgbouncer is not installed: .*apt-get install pgbouncer/)
    assert.match(lines[1], /^promtool is not installed: .*apt-get install prometheus/)
  } finally {
    process.env.PATH = path
    if (pgbouncer === undefined) delete process.env.PGBOUNCER
    else process.env.PGBOUNCER = pgbouncer
  }
})

Preflight.run()
