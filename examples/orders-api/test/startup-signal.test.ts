import { scratchName, watchProcess } from '@lifeguard/test-kit'
import { fileURLToPath } from 'node:url'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually } from './_helpers/http.js'
import { adminQuery, localDatabaseUrl, waitForConnectionCount } from './_helpers/service-process.js'

// A shutdown that comes while the service is still starting: its migration waits on another instance's lock.
const exampleDir = fileURLToPath(new URL('..', import.meta.url))
const schema = scratchName('orders_startup')
const appName = schema.replaceAll('_', '-')

const StartupSignal = suite('orders-api stopped during start-up')

StartupSignal.after(async () => {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

StartupSignal('SIGTERM while the migration waits on a lock ends it: exit 0, never listens, no session left', async () => {
  const other = new pg.Client({ connectionString: localDatabaseUrl, application_name: `${appName}-other` })
  const service = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: exampleDir,
    env: { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: localDatabaseUrl, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined },
  })
  try {
    // Another instance migrating the same schema holds the migration's lock until the test lets go.
    await other.connect()
    await other.query('BEGIN')
    await other.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`orders-api:migrate:${schema}`])
    const waiting = await eventually(async () => {
      const rows = await adminQuery("SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event = 'advisory'", [appName])
      return rows.length > 0
    }, 30_000)
    assert.ok(waiting, service.output())

    service.child.kill('SIGTERM')
    // Before, the migration waited on the lock past the shutdown deadline.
    const exit = await Promise.race([service.exited, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 20_000).unref())])
    assert.equal(exit, { code: 0, signal: null }, service.output())
    assert.not.match(service.output(), 'listening on')
    assert.is(await waitForConnectionCount(appName, 0), 0, 'the waiting statement was cancelled on the server')
  } finally {
    await service.stop('SIGKILL')
    await other.end().catch(() => undefined)
  }
})

StartupSignal.run()
