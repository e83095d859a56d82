#!/usr/bin/env node
// Runs one benchmark: `npm run bench -- NAME [--quick] [args...]` runs bench/src/NAME.bench.ts
// through tsx in a fresh process. `--quick` sets LIFEGUARD_BENCH_QUICK=1 for a short smoke run.
// Without a known NAME it lists the benchmarks and exits non-zero.
import { spawn } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const srcDir = fileURLToPath(new URL('./src/', import.meta.url))
const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const SUFFIX = '.bench.ts'

function available() {
  return readdirSync(srcDir)
    .filter((file) => file.endsWith(SUFFIX))
    .map((file) => file.slice(0, -SUFFIX.length))
    .sort()
}

function usage(problem) {
  const names = available()
  console.error(`${problem}\n\nUsage: npm run bench -- NAME [--quick] [args...]\n\nBenchmarks:`)
  console.error(names.length > 0 ? names.map((name) => `  ${name}`).join('\n') : '  (none yet)')
  process.exit(2)
}

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const rest = args.filter((arg) => arg !== '--quick')
const name = rest.find((arg) => !arg.startsWith('-'))
const passThrough = rest.filter((arg) => arg !== name)

if (name === undefined) usage('Missing benchmark name.')
if (!/^[a-z0-9][a-z0-9-]*$/.test(name) || !existsSync(`${srcDir}${name}${SUFFIX}`)) {
  usage(`Unknown benchmark '${name}'.`)
}

const child = spawn(
  process.execPath,
  // --expose-gc lets the harness collect garbage between samples, so cases do not pay for each other.
  ['--expose-gc', '--import', import.meta.resolve('tsx'), `${srcDir}${name}${SUFFIX}`, ...passThrough],
  {
    cwd: repoRoot,
    stdio: 'inherit',
    env: { ...process.env, LIFEGUARD_BENCH_QUICK: quick ? '1' : '0', LIFEGUARD_BENCH_NAME: name },
  },
)

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => child.kill(signal))
}

child.on('error', (error) => {
  console.error(`Could not run benchmark '${name}'. ${error.message}`)
  process.exit(1)
})

child.on('exit', (code, signal) => {
  if (code !== 0) console.error(`\nBenchmark '${name}' failed (${signal ?? `exit code ${code}`}).`)
  process.exit(code ?? 1)
})
