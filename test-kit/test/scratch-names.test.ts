import { spawnSync } from 'node:child_process'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { scratchName, scratchOwner, sweepScratchObjects } from '../src/index.js'

const test = suite<{ admin: pg.Client }>('scratch names')
const config = { host: process.env.PGHOST ?? '127.0.0.1', port: Number(process.env.PGPORT ?? 5432), user: process.env.PGUSER ?? 'postgres', database: process.env.PGDATABASE ?? 'test' }

/** The id of a process that has exited: what a run killed with SIGKILL leaves in its names. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' })
  return Number(child.stdout)
}

test.before(async (context) => {
  context.admin = new pg.Client({ ...config, application_name: 'test-kit-scratch' })
  await context.admin.connect()
})

test.after(async ({ admin }) => {
  await admin?.end()
})

test('names are valid identifiers that carry the process id', () => {
  const name = scratchName('Job-Worker')
  assert.match(name, new RegExp(`^lgtest_job_worker_p${process.pid}_[0-9a-f]{6}$`))
  assert.ok(name.length <= 63)
  assert.is(scratchOwner(name), process.pid)
  assert.is(scratchOwner('orders'), undefined)
  assert.is.not(scratchName('x'), scratchName('x'))
})

test('a sweep drops what a dead process left and keeps what a live one holds', async ({ admin }) => {
  const dead = deadPid()
  const left = scratchName('sweep').replace(`_p${process.pid}_`, `_p${dead}_`)
  const leftTable = scratchName('sweep_table').replace(`_p${process.pid}_`, `_p${dead}_`)
  const leftDatabase = scratchName('sweep_db').replace(`_p${process.pid}_`, `_p${dead}_`)
  const mine = scratchName('sweep')
  await admin.query(`CREATE SCHEMA "${left}"`)
  await admin.query(`CREATE TABLE "${left}".t (id int)`)
  await admin.query(`CREATE TABLE public."${leftTable}" (id int)`)
  await admin.query(`CREATE DATABASE "${leftDatabase}"`)
  await admin.query(`CREATE SCHEMA "${mine}"`)
  try {
    const report = await sweepScratchObjects((text) => admin.query(text))
    assert.ok(report.schemas.includes(left))
    assert.ok(report.tables.includes(leftTable))
    assert.ok(report.databases.includes(leftDatabase))
    assert.not.ok(report.schemas.includes(mine), 'a schema of this live process is kept')
    const { rows } = await admin.query<{ name: string }>(
      `SELECT nspname AS name FROM pg_namespace WHERE nspname = ANY($1) UNION ALL SELECT tablename FROM pg_tables WHERE tablename = $2 UNION ALL SELECT datname FROM pg_database WHERE datname = $3`,
      [[left, mine], leftTable, leftDatabase],
    )
    assert.equal(rows.map((r) => r.name), [mine])
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${mine}" CASCADE`)
    await admin.query(`DROP SCHEMA IF EXISTS "${left}" CASCADE`)
    await admin.query(`DROP TABLE IF EXISTS public."${leftTable}"`)
    await admin.query(`DROP DATABASE IF EXISTS "${leftDatabase}"`)
  }
})

test.run()
