import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { scratchName } from '@lifeguard/test-kit'
import pg from 'pg'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { loadConfig } from '../src/config.js'
import { request } from './_helpers/http.js'
import { adminQuery, startService, waitForConnectionCount } from './_helpers/service-process.js'

// The tests' PostgreSQL named by a PGHOST that is a socket directory, as libpq and the preflight read it: the
// tests must go there too, not quietly to 127.0.0.1 over TCP.
const exampleDir = fileURLToPath(new URL('..', import.meta.url))
const schema = scratchName('orders_socket')
const appName = schema.replaceAll('_', '-')
const run = promisify(execFile)

const Socket = suite('the tests’ DATABASE_URL with PGHOST a socket directory')

Socket.after(async () => {
  await adminQuery(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
})

/** A folder where the tests' PostgreSQL has its socket, or undefined (a server without one). */
async function socketDirectory(): Promise<string | undefined> {
  const [row] = await adminQuery<{ dirs: string; port: number }>("SELECT current_setting('unix_socket_directories') AS dirs, current_setting('port')::int AS port")
  const dirs = (row?.dirs ?? '').split(',').map((dir) => dir.trim()).filter((dir) => dir.startsWith('/'))
  return dirs.find((dir) => existsSync(join(dir, `.s.PGSQL.${row?.port}`)))
}

/** `localDatabaseUrl` as the helper computes it in a process whose PGHOST is `host`. */
async function localDatabaseUrlWith(host: string): Promise<string> {
  const script = "const { localDatabaseUrl } = await import('./test/_helpers/service-process.ts'); process.stdout.write(localDatabaseUrl)"
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: exampleDir, env: { ...process.env, PGHOST: host }, encoding: 'utf8' })
  return stdout
}

Socket('goes to the socket, and the service accepts that URL and connects through it', async () => {
  const found = await socketDirectory()
  // How pg and the service read the URL needs no server: checked with a directory that holds none too.
  const dir = found ?? '/nonexistent/socket-directory'
  const url = await localDatabaseUrlWith(dir)
  const client = new pg.Client({ connectionString: url })
  assert.is(client.host, dir, 'pg reads the URL as the socket directory')
  assert.is(loadConfig({ DATABASE_URL: url }).databaseUrl, url, 'the service’s configuration takes it')
  // The service's connections can go through a socket only where the tests' PostgreSQL listens on one.
  if (found === undefined) return

  const service = await startService({ DATABASE_URL: url, DB_SCHEMA: schema, APP_NAME: appName, MONGODB_URI: undefined })
  try {
    assert.is((await request(`${service.url}/health`)).status, 200)
    // A connection over a Unix socket has no client address.
    const sessions = await adminQuery<{ socket: boolean }>('SELECT client_addr IS NULL AS socket FROM pg_stat_activity WHERE application_name = $1', [appName])
    assert.ok(sessions.length > 0, 'the pool is warm')
    assert.ok(sessions.every((session) => session.socket), `every connection of the service is through the socket: ${JSON.stringify(sessions)}`)
    assert.equal(await service.stop('SIGTERM'), { code: 0, signal: null }, service.output())
  } finally {
    await service.stop('SIGKILL')
  }
  assert.is(await waitForConnectionCount(appName, 0), 0, 'no connection of the service is left')
})

Socket.run()
