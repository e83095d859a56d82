#!/usr/bin/env node
// Builds what the tests need, typechecks every package, runs each package's uvu suite one after
// another (they share one PostgreSQL server, so running them in parallel would blur the
// connection-count checks), and ends with one plain line: `N passed, N failed`.
import { execFileSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const only = process.argv.slice(2) // optional package names or folders to restrict the run

function run(command, args, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], ...options })
    let output = ''
    const forward = (stream, sink) =>
      stream.on('data', (chunk) => {
        output += chunk
        sink.write(chunk)
      })
    forward(child.stdout, process.stdout)
    forward(child.stderr, process.stderr)
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), output }))
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

const build = await run('npx', ['turbo', 'run', 'build', 'typecheck', '--output-logs=errors-only'])
if (build.code !== 0) {
  console.error('\nBuild or typecheck failed.')
  exitCode = 1
  failed += 1
}

if (exitCode === 0) {
  for (const workspace of workspaces()) {
    console.log(`\n=== ${workspace.name} (${workspace.dir})`)
    const result = await run('npm', ['run', 'test', '--silent'], { cwd: join(root, workspace.dir) })
    const t = totals(result.output)
    passed += t.passed
    skipped += t.skipped
    // uvu's Total counts the tests that ran (skipped ones apart), so failed = Total - Passed.
    let packageFailed = Math.max(0, t.total - t.passed)
    if (result.code !== 0 && packageFailed === 0) packageFailed = 1 // crashed before or after its summary
    if (!t.found && result.code === 0) {
      console.error(`No uvu summary from ${workspace.name}: counted as a failure.`)
      packageFailed = 1
    }
    failed += packageFailed
    if (packageFailed > 0) exitCode = 1
  }
}

console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(exitCode)
