#!/usr/bin/env node
// Runs benchmarks, each in a fresh process through tsx:
//   npm run bench -- NAME [--quick] [args...]   runs bench/src/NAME.bench.ts
//   npm run bench -- all [--quick]              runs every benchmark in turn (the harness self-test aside),
//                                               then writes bench/results/summary.md
//   npm run bench -- summary                    writes the summary from the result files there are
// `--quick` sets LIFEGUARD_BENCH_QUICK=1 for a short smoke run. Without a known NAME it lists the
// benchmarks and exits non-zero.
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const srcDir = fileURLToPath(new URL('./src/', import.meta.url))
const resultsDir = fileURLToPath(new URL('./results/', import.meta.url))
const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const SUFFIX = '.bench.ts'
// Proves the harness, measures nothing of Lifeguard's: not part of `all`.
const NOT_IN_ALL = new Set(['harness-selftest'])

function available() {
  return readdirSync(srcDir)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort()
}

function usage(problem) {
  const names = available()
  console.error(`${problem}\n\nUsage: npm run bench -- NAME|all|summary [--quick] [args...]\n\nBenchmarks:`)
  console.error(names.length > 0 ? names.map((name) => `  ${name}`).join('\n') : '  (none yet)')
  process.exit(2)
}

let current
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    current?.kill(signal)
    process.exit(1)
  })
}

/** Runs one script through tsx; resolves with its exit code (null when killed by a signal). */
function runScript(file, args, env) {
  return new Promise((resolve) => {
    // --expose-gc lets the harness collect garbage between samples, so cases do not pay for each other.
    const child = spawn(process.execPath, ['--expose-gc', '--import', import.meta.resolve('tsx'), file, ...args], {
      cwd: repoRoot,
      stdio: 'inherit',
      env: { ...process.env, ...env },
    })
    current = child
    child.on('error', (error) => {
      console.error(`Could not run '${file}'. ${error.message}`)
      resolve(1)
    })
    child.on('exit', (code) => resolve(code))
  })
}

function runBench(name, quick, args) {
  return runScript(`${srcDir}${name}${SUFFIX}`, args, { LIFEGUARD_BENCH_QUICK: quick ? '1' : '0', LIFEGUARD_BENCH_NAME: name })
}

async function runAll(quick) {
  const names = available().filter((name) => !NOT_IN_ALL.has(name))
  const run = { startedAt: new Date().toISOString(), finishedAt: '', quick, node: process.version, benches: [] }
  for (const name of names) {
    console.log(`\n=== ${name}${quick ? ' (quick)' : ''} ===`)
    const loadBefore = loadavg()
    const started = Date.now()
    const exitCode = await runBench(name, quick, [])
    if (exitCode !== 0) console.error(`Benchmark '${name}' failed (exit code ${exitCode}); going on with the others.`)
    run.benches.push({ name, exitCode, seconds: (Date.now() - started) / 1000, loadBefore, loadAfter: loadavg() })
  }
  run.finishedAt = new Date().toISOString()
  mkdirSync(resultsDir, { recursive: true })
  writeFileSync(`${resultsDir}all-run.json`, JSON.stringify(run, null, 2) + '\n')
  const summary = await runScript(`${srcDir}summary.ts`, ['--all-run'], {})
  const failed = run.benches.filter((bench) => bench.exitCode !== 0).map((bench) => bench.name)
  if (failed.length > 0) console.error(`\nFailed: ${failed.join(', ')}.`)
  return failed.length > 0 || summary !== 0 ? 1 : 0
}

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const rest = args.filter((arg) => arg !== '--quick')
const name = rest.find((arg) => !arg.startsWith('-'))
const passThrough = rest.filter((arg) => arg !== name)

if (name === undefined) usage('Missing benchmark name.')
if (name === 'all') process.exit(await runAll(quick))
if (name === 'summary') {
  mkdirSync(resultsDir, { recursive: true })
  process.exit((await runScript(`${srcDir}summary.ts`, passThrough, {})) ?? 1)
}
if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(`${srcDir}${name}${SUFFIX}`)) usage(`Unknown benchmark '${name}'.`)
const code = await runBench(name, quick, passThrough)
if (code !== 0) console.error(`\nBenchmark '${name}' failed (${code === null ? 'killed' : `exit code ${code}`}).`)
process.exit(code ?? 1)
