#!/usr/bin/env node
// Checks that the services the suites need are there (one line each when not), builds what the tests
// need, typechecks every package, drops what killed runs left on the database server, runs each
// package's uvu suite one after another (they share one PostgreSQL server, so running them in parallel
// would blur the connection-count checks), and ends with one plain line: `N passed, N failed`.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { pgSettings, preflight, requirementsOf } from './lib/preflight.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
// Optional package names or folders to restrict the run (`./adapters/koa/` as tab completion writes it too).
const only = process.argv.slice(2).map((o) => o.replace(/^\.\//, '').replace(/\/+$/, ''))

// A package's suite that runs longer than this is stopped and counted as failed: a handle a test left open
// (uvu never exits on its own) would otherwise hold the run, and CI, for good. 0: no limit.
const limitMinutes = Number(process.env.LIFEGUARD_TEST_PACKAGE_LIMIT_MINUTES ?? 20)
const packageLimitMillis = Number.isFinite(limitMinutes) && limitMinutes > 0 ? limitMinutes * 60_000 : undefined
// How long a stopped suite gets to clean up (its private clusters stop on SIGTERM) before it is killed.
const stopGraceMillis = 10_000
// How long the output of a suite whose process has exited may stay open: longer, a process it started (a
// test server) still holds it, which is stopped with the suite's group and counted as a failure.
const outputGraceMillis = 5_000
const running = new Set()
// Set by a signal: nothing starts after it (a suite that ended in the same tick would otherwise be followed
// by the next one, left running once this process exits).
let stopping = false
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]]) {
  process.on(signal, () => {
    stopping = true
    // The suites run in process groups of their own, which a terminal's Ctrl-C does not reach: passed on.
    Promise.all([...running].map((child) => stop(child, signal))).then(() => process.exit(code))
  })
}

// `limitMillis`: the child runs in a process group of its own, stopped whole when the limit passes.
function run(command, args, options = {}, limitMillis = undefined) {
  if (stopping) return Promise.resolve({ code: 1, output: '', timedOut: false, heldOutput: false })
  return new Promise((resolve) => {
    const detached = options.detached ?? true
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached, ...options })
    running.add(child)
    let output = ''
    let timedOut = false
    const forward = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk
        sink.write(chunk)
      })
    forward(child.stdout, process.stdout)
    forward(child.stderr, process.stderr)
    const timer =
      limitMillis === undefined
        ? undefined
        : setTimeout(() => {
            timedOut = true
            // A process outside the group that still holds the pipes would keep 'close' from coming.
            stop(child, 'SIGTERM').then(() => setTimeout(() => finish(null, 'SIGKILL'), 1_000))
          }, limitMillis)
    let settled = false
    let heldOutput = false
    let held
    const finish = (code, signal) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(held)
      running.delete(child)
      child.stdout.destroy()
      child.stderr.destroy()
      resolve({ code: code ?? (signal ? 1 : 0), output, timedOut, heldOutput })
    }
    child.on('exit', (code, signal) => {
      held = setTimeout(() => {
        heldOutput = true
        stop(child, 'SIGTERM').then((reached) => {
          // Not in the suite's group (started detached): it cannot be told apart from the rest of the machine.
          if (!reached) heldOutput = 'outside the group'
          finish(code, signal)
        })
      }, outputGraceMillis)
    })
    child.on('close', finish)
  })
}

// Sends `signal` to the child's process group (uvu under npm), then SIGKILL if it has not exited within the
// grace. Resolves once it has exited, or the grace after the SIGKILL has passed. A child that has exited
// already gets its group signalled all the same, and SIGKILL a second later: what it left running. Resolves
// false when nothing was left in the group to signal.
function stop(child, signal) {
  const send = (which) => {
    try {
      process.kill(-child.pid, which)
    } catch {
      child.kill(which)
    }
  }
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      // The leader is gone; what it started may not be (a process holding the suite's output).
      try {
        process.kill(-child.pid, signal)
        setTimeout(() => {
          try {
            process.kill(-child.pid, 'SIGKILL')
          } catch {}
          resolve(true)
        }, 1_000)
      } catch {
        resolve(false)
      }
      return
    }
    const exited = () => {
      clearTimeout(kill)
      resolve(true)
    }
    child.once('exit', exited)
    send(signal)
    const kill = setTimeout(() => {
      send('SIGKILL')
      setTimeout(() => resolve(true), 1_000)
    }, stopGraceMillis)
  })
}

function workspaces() {
  const { workspaces: patterns } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const list = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  const order = patterns.map((p) => p.replace(/\/\*$/, ''))
  return list
    .map((w) => ({ name: w.name, dir: w.location, scripts: w.scripts ?? {} }))
    .filter((w) => w.scripts.test)
    .filter((w) => only.length === 0 || only.some((o) => o === w.name || o === w.dir))
    .sort((a, b) => order.findIndex((o) => a.dir.startsWith(o)) - order.findIndex((o) => b.dir.startsWith(o)) || a.dir.localeCompare(b.dir))
}

/** Drops the schemas, tables and databases that test runs killed before their clean-up left behind. */
async function sweepLeftovers() {
  const { sweepScratchObjects } = await import('../test-kit/dist/index.js')
  const client = new pg.Client({ ...pgSettings(), application_name: 'lifeguard-preflight' })
  await client.connect()
  try {
    const { schemas, tables, databases } = await sweepScratchObjects((text) => client.query(text))
    const dropped = [...schemas, ...tables, ...databases]
    if (dropped.length > 0) console.log(`[preflight] dropped ${dropped.length} object(s) left by killed test runs: ${dropped.join(', ')}`)
  } finally {
    await client.end()
  }
}

const strip = (text) => text.replace(/\u001b\[[0-9;]*m/g, '')
function totals(output) {
  const text = strip(output)
  const number = (label) => [...text.matchAll(new RegExp(`^\\s*${label}:\\s+(\\d+)`, 'gm'))].reduce((sum, m) => sum + Number(m[1]), 0)
  return { total: number('Total'), passed: number('Passed'), skipped: number('Skipped'), found: /^\s*Total:/m.test(text) }
}

// Test files that never ran their suite: uvu prints each file's name, then a `(passed / total)` line per suite
// that ran. A file that registered tests and never called `.run()` gets its name alone, and would pass without
// a word.
function filesWithoutTests(output) {
  const empty = []
  let file
  let ran = false
  const close = () => {
    if (file !== undefined && !ran) empty.push(file)
  }
  for (const line of strip(output).split('\n')) {
    if (/^\S.*\.test\.[cm]?[jt]s$/.test(line)) {
      close()
      file = line
      ran = false
    } else if (/\(\d+ \/ \d+\)\s*$/.test(line)) ran = true // (0 / 0): every test skipped, but run
    else if (/^\s*Total:/.test(line)) {
      close()
      file = undefined
    }
  }
  return empty
}

// Suites some of whose tests neither passed nor failed: uvu drops the error of a `before` hook that throws (the
// suite's tests are counted, none runs, nothing is printed), so the failure would come without a word.
function silentSuites(output) {
  const silent = []
  for (const line of strip(output).split('\n')) {
    const match = /^\s*(.+?)\s+[•✘\s]*\((\d+) \/ (\d+)\)\s*$/.exec(line)
    if (match === null) continue
    const failedTests = (line.match(/✘/g) ?? []).length
    if (Number(match[3]) - Number(match[2]) > failedTests) silent.push(match[1].trim())
  }
  return silent
}

let passed = 0
let failed = 0
let skipped = 0
let exitCode = 0

if (!existsSync(join(root, 'node_modules', '.bin', 'turbo'))) {
  console.error('Dependencies are not installed: run `npm ci` first.')
  console.log('\n0 passed, 1 failed')
  process.exit(1)
}
// Whatever fails unforeseen (npm, the database), the last line is still the summary.
// The suites still running are stopped first: in groups of their own, they would outlive this process.
for (const event of ['uncaughtException', 'unhandledRejection']) {
  process.on(event, (error) => {
    if (stopping) return
    stopping = true
    console.error(error)
    console.log(`\n${passed} passed, ${failed + 1} failed`)
    Promise.all([...running].map((child) => stop(child, 'SIGTERM'))).finally(() => process.exit(1))
  })
}
// Which Node.js runs the tests: a CI pass that puts another one first on PATH checks this line.
console.log(`[run-tests] node ${process.version}`)
const { default: pg } = await import('pg')
const selected = workspaces()
const unmatched = only.filter((o) => !selected.some((w) => o === w.name || o === w.dir))
if (selected.length === 0 || unmatched.length > 0) {
  console.error(`No package with tests matches ${(unmatched.length > 0 ? unmatched : only).map((o) => `'${o}'`).join(', ') || 'the workspaces'} (give a package name or its folder).`)
  console.log('\n0 passed, 1 failed')
  process.exit(1)
}
const missing = await preflight(requirementsOf(root, selected.map((w) => w.dir)), pg)
if (missing.length > 0) {
  for (const line of missing) console.error(`Missing: ${line}`)
  console.log(`\n0 passed, ${missing.length} failed`)
  process.exit(1)
}

// After a signal (or a crash), its handler stops what runs and decides the exit: nothing more is started or counted.
const untilStopped = () => new Promise(() => {})
const build = await run('npx', ['turbo', 'run', 'build', 'typecheck', '--output-logs=errors-only'])
if (stopping) await untilStopped()
if (build.code !== 0) {
  console.error('\nBuild or typecheck failed.')
  exitCode = 1
  failed += 1
}

if (exitCode === 0) {
  // Housekeeping: a failure here (a server that refuses DROP DATABASE ... WITH (FORCE), before PostgreSQL 13)
  // is said, and the suites run all the same.
  await sweepLeftovers().catch((error) => console.error(`[preflight] could not drop what killed test runs left: ${error.message}`))
  for (const workspace of selected) {
    console.log(`\n=== ${workspace.name} (${workspace.dir})`)
    const result = await run('npm', ['run', 'test', '--silent'], { cwd: join(root, workspace.dir) }, packageLimitMillis)
    if (stopping) await untilStopped()
    const t = totals(result.output)
    passed += t.passed
    skipped += t.skipped
    // uvu's Total counts the tests that ran (skipped ones apart), so failed = Total - Passed.
    let packageFailed = Math.max(0, t.total - t.passed)
    if (result.code !== 0 && packageFailed === 0) packageFailed = 1 // crashed before or after its summary
    const empty = filesWithoutTests(result.output)
    if (empty.length > 0) {
      console.error(`${workspace.name}: test files that ran no test (no \`.run()\`?), counted as failures: ${empty.join(', ')}`)
      packageFailed += empty.length
    }
    if (result.heldOutput) {
      const what = result.heldOutput === true ? 'stopped' : 'not stopped: it runs outside the suite\'s process group'
      console.error(`${workspace.name}: a process its tests started still held their output ${outputGraceMillis / 1000} s after the suite ended (${what}), counted as a failure.`)
      packageFailed += 1
    }
    const silent = silentSuites(result.output)
    if (silent.length > 0) console.error(`${workspace.name}: tests that did not run, with no error printed (a \`before\` hook that threw? uvu drops its error) in: ${silent.join(', ')}`)
    if (result.timedOut) {
      console.error(`${workspace.name} ran past ${packageLimitMillis / 60_000} minutes (a handle left open?): stopped, counted as a failure.`)
      packageFailed = Math.max(packageFailed, 1)
    } else if (!t.found && result.code === 0) {
      console.error(`No uvu summary from ${workspace.name}: counted as a failure.`)
      packageFailed = Math.max(packageFailed, 1)
    } else if (t.found && t.total === 0 && t.skipped === 0) {
      // A pattern that matched no file, or suites that registered nothing: green would say nothing.
      console.error(`${workspace.name} ran no test: counted as a failure.`)
      packageFailed = Math.max(packageFailed, 1)
    }
    // None are skipped in a normal run: a skip is a leftover `.only` or `.skip`, or a suite pointed elsewhere
    // (MONGODB_URI runs the MongoDB suite against a real server, whose fault tests it skips).
    if (t.skipped > 0 && process.env.LIFEGUARD_TEST_ALLOW_SKIPPED !== '1') {
      console.error(`${workspace.name} skipped ${t.skipped} test(s): counted as failures (LIFEGUARD_TEST_ALLOW_SKIPPED=1 allows them; MONGODB_URI set makes the MongoDB suite skip its fault tests).`)
      packageFailed += t.skipped
    }
    failed += packageFailed
    if (packageFailed > 0) exitCode = 1
  }
}

// The last line stays `N passed, N failed`; skipped tests (failures unless allowed) are said on the line before.
if (skipped > 0) console.log(`\n${skipped} skipped`)
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(exitCode)
