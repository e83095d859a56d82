import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { watchProcess } from '@lifeguard/test-kit'
import { eventually, isRefused, request, sampleOrder } from './_helpers/http.js'
import { holdRequest, type HeldRequest } from './_helpers/held-request.js'
import { adminQuery, exitWithin, startService, type ServiceProcess } from './_helpers/service-process.js'

// The root README's quick start on a fresh machine: `npm start` with no DATABASE_URL, so the service runs
// its own PostgreSQL; then what `docker stop` or a process manager does: SIGTERM to the npm process.
let service: ServiceProcess | undefined
let tempDir: string | undefined
let held: HeldRequest | undefined
// A postmaster a test stopped (SIGSTOP), killed afterwards should the service have left it.
let stuck: number | undefined

const Embedded = suite('npm start without DATABASE_URL (embedded PostgreSQL)')

Embedded.after.each(async () => {
  await service?.stop('SIGKILL')
  await held?.release()
  held = undefined
  if (stuck !== undefined && !isGone(stuck)) process.kill(stuck, 'SIGKILL')
  stuck = undefined
  if (tempDir !== undefined) await rm(tempDir, { recursive: true, force: true })
  service = undefined
  tempDir = undefined
})

// A private temp dir for the data folder, to see that nothing is left in it. PostgreSQL runs as the
// `postgres` user when the tests run as root, so the folder must let it in.
async function privateTempDir(): Promise<string> {
  tempDir = await mkdtemp(join(tmpdir(), 'orders-api-npm-start-'))
  await chmod(tempDir, 0o755)
  return tempDir
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

const dataFolders = async (dir: string): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('lifeguard-orders-pg-'))

/**
 * A URL on which the test reaches the embedded server, whose password it never sees: `trust` for `postgres` over
 * loopback, put first in the server's `pg_hba.conf`, which the server rereads on SIGHUP.
 */
async function letTestIn(folder: string, postmaster: number, port: string): Promise<string> {
  const hba = join(folder, 'pg_hba.conf')
  await writeFile(hba, `host all postgres 127.0.0.1/32 trust\n${await readFile(hba, 'utf8')}`)
  process.kill(postmaster, 'SIGHUP')
  const url = `postgres://postgres@127.0.0.1:${port}/orders`
  const reached = await eventually(() => adminQuery('SELECT 1', [], url).then(() => true, () => false))
  assert.ok(reached, 'the test reaches the embedded server')
  return url
}

/** Sends a POST's head and half its body; `finish()` sends the rest and resolves with the status line. */
function startSlowPost(url: string, body: string): Promise<{ finish(): Promise<string> }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      const half = Math.floor(body.length / 2)
      socket.write(`POST /orders HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`)
      let response = ''
      const ended = new Promise<string>((done) => {
        socket.on('data', (chunk) => (response += chunk.toString()))
        socket.on('end', () => done(response.split('\r\n')[0] ?? ''))
      })
      resolve({
        finish() {
          socket.write(body.slice(half))
          return ended
        },
      })
    })
    socket.once('error', reject)
  })
}

Embedded('starts its own PostgreSQL; SIGTERM to npm finishes the request in flight, stops the database, removes its folder and exits 0', async () => {
  const tempDir = await privateTempDir()
  // Generous: the first start on a machine reads the PostgreSQL binaries from a cold disk.
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-test', TMPDIR: tempDir }, { npmStart: true, timeoutMillis: 120_000 })
  const output = service.output()
  assert.match(output, 'DATABASE_URL is not set: starting an embedded PostgreSQL')
  const target = /embedded PostgreSQL ready at (postgres:\/\/postgres@127\.0\.0\.1:(\d+)\/orders)/.exec(output)
  assert.ok(target !== null, 'the log names where the embedded server listens')
  const databaseUrl = `http://127.0.0.1:${target[2]}`
  assert.is((await dataFolders(tempDir)).length, 1, 'one data folder in the temp dir')

  const health = await request(`${service.url}/health`)
  assert.is(health.status, 200)
  assert.is(health.body.pools.orders.target, target[1])
  const created = await request(`${service.url}/orders`, { method: 'POST', body: sampleOrder })
  assert.is(created.status, 201)
  const read = await request(`${service.url}/orders/${created.body.id}`)
  assert.is(read.status, 200)
  assert.is(read.body.totalCents, 1200)

  // A request whose body is still arriving when the signal comes: in flight, and it must complete.
  const inFlight = await startSlowPost(service.url, JSON.stringify(sampleOrder))
  service.child.kill('SIGTERM') // the npm process, not the service
  await service.waitFor(/SIGTERM received/, 10_000)
  assert.is(await inFlight.finish(), 'HTTP/1.1 201 Created', 'the request in flight completed')

  const exit = await service.exited
  assert.equal(exit, { code: 0, signal: null }, 'npm start exits 0')
  assert.match(service.output(), 'stopped cleanly')
  assert.ok(await eventually(() => isRefused(databaseUrl)), 'the embedded PostgreSQL is stopped with the service')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
  assert.not.match(service.output(), /postgres:\/\/postgres:[^@\s]+@/, 'the generated password never appears in the log')
})

Embedded('a second SIGTERM to npm start, while a request holds the drain, stops at once: database stopped, folder removed, exit 1', async () => {
  const tempDir = await privateTempDir()
  const env = { DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-forced', TMPDIR: tempDir, SHUTDOWN_TIMEOUT_MILLIS: '600000' }
  service = await startService(env, { npmStart: true, timeoutMillis: 120_000 })
  const target = /embedded PostgreSQL ready at postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(service.output())
  assert.ok(target !== null, 'the log names where the embedded server listens')
  const [folder] = await dataFolders(tempDir)
  assert.ok(folder, 'one data folder in the temp dir')
  const postmaster = Number((await readFile(join(tempDir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])

  // Its body never completes: the drain would wait for it until SHUTDOWN_TIMEOUT_MILLIS.
  await startSlowPost(service.url, JSON.stringify(sampleOrder))
  service.child.kill('SIGTERM') // the npm process, which passes it on through the start script
  await service.waitFor(/press Ctrl-C again/, 10_000)
  service.child.kill('SIGTERM')
  // Before, the start script passed only the first signal on, and the service ignored repeats.
  assert.equal(await exitWithin(service.exited, 10_000), { code: 1, signal: null }, service.output())
  const lines = service.output().trimEnd().split('\n')
  assert.is(lines.at(-1), '[orders-api] SIGTERM received while shutting down: shutdown forced, cutting off 1 request(s) in flight; exiting 1', 'one line, the last: not followed by the pool reporting the database it lost')
  assert.ok(isGone(postmaster), 'the embedded PostgreSQL was stopped before the service exited')
  assert.ok(await isRefused(`http://127.0.0.1:${target[1]}`), 'nothing listens on its port')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('a second SIGTERM while a request waits on a lock in the embedded PostgreSQL: the forced stop alone ends it, its line the last, exit 1', async () => {
  const tempDir = await privateTempDir()
  const appName = 'orders-api-embedded-forced-lock'
  const env = { DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: appName, TMPDIR: tempDir, SHUTDOWN_TIMEOUT_MILLIS: '600000' }
  service = await startService(env, { npmStart: true, timeoutMillis: 120_000 })
  const target = /embedded PostgreSQL ready at postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(service.output())
  assert.ok(target?.[1] !== undefined, 'the log names where the embedded server listens')
  const [folder] = await dataFolders(tempDir)
  assert.ok(folder, 'one data folder in the temp dir')
  const postmaster = Number((await readFile(join(tempDir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])
  const databaseUrl = await letTestIn(join(tempDir, folder), postmaster, target[1])
  held = await holdRequest(service.url, 'orders_api', appName, databaseUrl)

  service.child.kill('SIGTERM')
  await service.waitFor(/press Ctrl-C again/, 10_000)
  service.child.kill('SIGTERM')
  // The immediate shutdown ends the waiting backend: the request fails, the drain and the graceful close end, and
  // they raced the forced stop to the exit. Before, either could come last ('stopped cleanly', exit code 0 two
  // seconds later, or 'shutdown failed').
  assert.equal(await exitWithin(service.exited, 15_000), { code: 1, signal: null }, service.output())
  const lines = service.output().trimEnd().split('\n')
  assert.is(lines.at(-1), '[orders-api] SIGTERM received while shutting down: shutdown forced, cutting off 1 request(s) in flight; exiting 1', service.output())
  assert.not.match(service.output(), 'stopped cleanly')
  assert.not.match(service.output(), 'shutdown failed')
  const outcome = await held.outcome
  assert.ok(outcome instanceof Error || outcome.status >= 500, 'the request did not complete')
  assert.ok(isGone(postmaster), 'the embedded PostgreSQL was stopped before the service exited')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('a second SIGTERM while the graceful shutdown waits on a database that does not stop: the forced stop kills it, its line the last, exit 1', async () => {
  const tempDir = await privateTempDir()
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-forced-stuck', TMPDIR: tempDir }, { timeoutMillis: 120_000 })
  const [folder] = await dataFolders(tempDir)
  assert.ok(folder, 'one data folder in the temp dir')
  const postmaster = Number((await readFile(join(tempDir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])
  // A database that does not answer its shutdown: stopped, every signal but SIGKILL waits.
  process.kill(postmaster, 'SIGSTOP')
  stuck = postmaster

  service.child.kill('SIGTERM')
  await service.waitFor(/press Ctrl-C again/, 10_000)
  service.child.kill('SIGTERM')
  // The graceful stop gives up on the database after 5 s, the forced one a second later, and kills it. Before, the
  // graceful one failed last and exited first: 'shutdown failed' after the forced line, the database left running.
  assert.equal(await exitWithin(service.exited, 15_000), { code: 1, signal: null }, service.output())
  const lines = service.output().trimEnd().split('\n')
  assert.is(lines.at(-1), '[orders-api] SIGTERM received while shutting down: shutdown forced, cutting off 0 request(s) in flight; exiting 1', service.output())
  assert.not.match(service.output(), 'shutdown failed')
  assert.ok(isGone(postmaster), 'the forced stop killed the database before the service exited')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('when its PostgreSQL died under it, health turns 503, and SIGTERM still removes the data folder and says it failed: exit 1', async () => {
  const tempDir = await privateTempDir()
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-killed', TMPDIR: tempDir }, { npmStart: true, timeoutMillis: 120_000 })
  const [folder] = await dataFolders(tempDir)
  assert.ok(folder, 'one data folder in the temp dir')
  // The postmaster's pid is the first line of its pid file: killed as an OOM killer would.
  const postmaster = Number((await readFile(join(tempDir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])
  process.kill(postmaster, 'SIGKILL')
  assert.ok(await eventually(async () => isGone(postmaster)), 'the database is gone')
  const url = service.url
  assert.ok(await eventually(async () => (await request(`${url}/health`)).status === 503), 'the health check says the service cannot serve')

  service.child.kill('SIGTERM')
  const exit = await service.exited
  assert.equal(exit, { code: 1, signal: null }, 'the shutdown says it did not finish cleanly')
  assert.match(service.output(), /shutdown failed: Could not close the service cleanly\. 1 step\(s\) failed: PostgreSQL had ended before it was stopped \(killed by SIGKILL\)/)
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed all the same')
})

Embedded("Ctrl-C on this package's `npm start` (SIGINT to its whole process group): the database is not hit, the request in flight completes, exit 0", async () => {
  const tempDir = await privateTempDir()
  const env = { DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-ctrl-c', TMPDIR: tempDir }
  service = await startService(env, { npmStart: 'package', ownProcessGroup: true })
  const group = service.child.pid as number
  process.kill(-group, 0) // npm leads a process group, as in a terminal
  const target = /embedded PostgreSQL ready at postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(service.output())
  assert.ok(target !== null, 'the log names where the embedded server listens')

  // In flight when the signal comes: its INSERT runs after it, on a database that must still be there.
  const inFlight = await startSlowPost(service.url, JSON.stringify(sampleOrder))
  process.kill(-group, 'SIGINT') // what the terminal sends on Ctrl-C: every process of the foreground group
  await service.waitFor(/SIGINT received/, 10_000)
  // Before, the embedded PostgreSQL shared npm's group and did a fast shutdown at once, under the request.
  assert.is(await inFlight.finish(), 'HTTP/1.1 201 Created', service.output())

  const exit = await service.exited
  assert.equal(exit, { code: 0, signal: null }, service.output())
  assert.match(service.output(), 'stopped cleanly')
  assert.not.match(service.output(), 'shutdown failed')
  assert.is(service.output().split('SIGINT received').length - 1, 1, 'one shutdown, from one signal passed on')
  assert.ok(await eventually(() => isRefused(`http://127.0.0.1:${target[1]}`)), 'the embedded PostgreSQL is stopped with the service')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('when its PostgreSQL shut down by itself (SIGINT from a terminal reaches it too), SIGTERM still stops at once: folder removed, exit 0', async () => {
  const tempDir = await privateTempDir()
  // Started without npm, as under `exec node` in a terminal, where a Ctrl-C reaches the database directly.
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-self-stop', TMPDIR: tempDir }, { timeoutMillis: 120_000 })
  const [folder] = await dataFolders(tempDir)
  assert.ok(folder, 'one data folder in the temp dir')
  const postmaster = Number((await readFile(join(tempDir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])
  process.kill(postmaster, 'SIGINT') // a fast shutdown, which the server ends cleanly
  assert.ok(await eventually(async () => isGone(postmaster)), 'the database is gone')

  service.child.kill('SIGTERM')
  const exit = await service.exited
  // Before, stopping the database waited for an exit that had already happened: 5 s, then a failure, exit 1.
  assert.equal(exit, { code: 0, signal: null }, service.output())
  assert.match(service.output(), 'stopped cleanly')
  assert.not.match(service.output(), 'shutdown failed')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('SIGHUP to the service itself (its terminal closed) shuts it down as SIGTERM does: database stopped, folder removed, exit 0', async () => {
  const tempDir = await privateTempDir()
  // Started without npm: the signal reaches the service alone, as when it runs under `exec node` in a terminal.
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-hangup', TMPDIR: tempDir }, { timeoutMillis: 120_000 })
  const target = /embedded PostgreSQL ready at postgres:\/\/postgres@127\.0\.0\.1:(\d+)\//.exec(service.output())
  assert.ok(target !== null, 'the log names where the embedded server listens')
  service.child.kill('SIGHUP')
  const exit = await service.exited
  assert.equal(exit, { code: 0, signal: null }, 'a clean exit, not death by the signal')
  assert.match(service.output(), 'SIGHUP received')
  assert.ok(await eventually(() => isRefused(`http://127.0.0.1:${target[1]}`)), 'the embedded PostgreSQL is stopped with the service')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('a signal while it starts up ends the start-up: it never listens, the database is stopped, exit 0', async () => {
  const tempDir = await privateTempDir()
  const env = { PORT: '0', HOST: '127.0.0.1', DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-early-stop', TMPDIR: tempDir }
  const starting = watchProcess(process.execPath, ['--import', 'tsx', 'src/main.ts'], { cwd: fileURLToPath(new URL('..', import.meta.url)), env })
  service = Object.assign(starting, { url: '' })
  await starting.waitFor(/starting an embedded PostgreSQL/, 60_000)
  starting.child.kill('SIGINT')
  const exit = await starting.exited
  assert.equal(exit, { code: 0, signal: null })
  assert.match(starting.output(), 'SIGINT received')
  assert.not.match(starting.output(), 'listening on', 'it did not start serving what was about to stop')
  assert.equal(await dataFolders(tempDir), [], 'its data folder is removed')
})

Embedded('when npm start is killed outright (SIGKILL), the service still shuts down and removes the data folder', async () => {
  const tempDir = await privateTempDir()
  service = await startService({ DATABASE_URL: undefined, MONGODB_URI: undefined, APP_NAME: 'orders-api-embedded-orphan', TMPDIR: tempDir }, { npmStart: true, timeoutMillis: 120_000 })
  const url = service.url
  service.child.kill('SIGKILL') // npm alone: no signal reaches what it started
  // Generous limits: they only bound a failing test (the service notices within about a second).
  assert.ok(await eventually(() => isRefused(url), 30_000), 'the service no longer listens')
  assert.ok(await eventually(async () => (await dataFolders(tempDir)).length === 0, 30_000), 'its data folder is removed')
})

Embedded.run()
