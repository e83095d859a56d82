#!/usr/bin/env node
// Checks that the services the suites need are there (one line each when not), builds what the tests
// need, typechecks every package, drops what killed runs left on the database server, runs each
// package's uvu suite one after another (they share one PostgreSQL server, so running them in parallel
// would blur the connection-count checks), and ends with one plain line: `N passed, N failed`.
import { execFileSync, spawn } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { pgSettings, preflight, requirementsOf } from './lib/preflight.mjs'

const root = new URL('..', import.meta.url).pathname
const only = process.argv.slice(2) // optional package names or folders to restrict the run

// A package's suite that runs longer than this is stopped and counted as failed: a handle a test left open
// (uvu never exits on its own) would otherwise hold the run, and CI, for good.
const packageLimitMillis = Number(process.env.LIFEGUARD_TEST_PACKAGE_LIMIT_MINUTES ?? 20) * 60_000
const running = new Set()
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of running) stopGroup(child)
    process.exit(130)
  })
}

// `limitMillis`: the child runs in a process group of its own, stopped whole when the limit passes.
function run(command, args, options = {}, limitMillis = undefined) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], detached: limitMillis !== undefined, ...options })
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
            stopGroup(child)
          }, limitMillis)
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      running.delete(child)
      resolve({ code: code ?? (signal ? 1 : 0), output, timedOut })
    })
  })
}

// The child's whole process group (uvu under npm), or the child alone when it has no group of its own.
function stopGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL')
  } catch {
    child.kill('SIGKILL')
  }
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

let passed = 0
let failed = 0
let skipped = 0
let exitCode = 0

if (!existsSync(join(root, 'node_modules', '.bin', 'turbo'))) {
  console.error('Dependencies are not installed: run `npm ci` first.')
  console.log('\n0 passed, 1 failed')
  process.exit(1)
}
const { default: pg } = await import('pg')
const selected = workspaces()
const missing = await preflight(requirementsOf(root, selected.map((w) => w.dir)), pg)
if (missing.length > 0) {
  for (const line of missing) console.error(`Missing: ${line}`)
  console.log(`\n0 passed, ${missing.length} failed`)
  process.exit(1)
}

const build = await run('npx', ['turbo', 'run', 'build', 'typecheck', '--output-logs=errors-only'])
if (build.code !== 0) {
  console.error('\nBuild or typecheck failed.')
  exitCode = 1
  failed += 1
}

if (exitCode === 0) {
  await sweepLeftovers()
  for (const workspace of selected) {
    console.log(`\n=== ${workspace.name} (${workspace.dir})`)
    const result = await run('npm', ['run', 'test', '--silent'], { cwd: join(root, workspace.dir) }, packageLimitMillis)
    const t = totals(result.output)
    passed += t.passed
    skipped += t.skipped
    // uvu's Total counts the tests that ran (skipped ones apart), so failed = Total - Passed.
    let packageFailed = Math.max(0, t.total - t.passed)
    if (result.code !== 0 && packageFailed === 0) packageFailed = 1 // crashed before or after its summary
    if (result.timedOut) {
      console.error(`${workspace.name} ran past ${packageLimitMillis / 60_000} minutes (a handle left open?): stopped, counted as a failure.`)
      packageFailed = Math.max(packageFailed, 1)
    } else if (!t.found && result.code === 0) {
      console.error(`No uvu summary from ${workspace.name}: counted as a failure.`)
      packageFailed = 1
    } else if (t.found && t.total === 0 && t.skipped === 0) {
      // A pattern that matched no file, or suites that registered nothing: green would say nothing.
      console.error(`${workspace.name} ran no test: counted as a failure.`)
      packageFailed = 1
    }
    failed += packageFailed
    if (packageFailed > 0) exitCode = 1
  }
}

// The last line stays `N passed, N failed`; skipped tests (none are expected) are said on the line before.
if (skipped > 0) console.log(`\n${skipped} skipped`)
console.log(`\n${passed} passed, ${failed} failed`)
process.exit(exitCode)
