#!/usr/bin/env node
// `npm start`: builds the packages the example service needs, then runs it. The root's `npm start` and the
// example's own (`npm start -w @lifeguard-examples/orders-api`) both run this script.
//
//   npm start               the Express service (examples/orders-api)
//   npm start -- koa        the Koa variant
//   npm start -- hono       the Hono variant
//
// Without DATABASE_URL the service starts an embedded PostgreSQL for the run; with it, it uses that
// server. PORT (default 3000), HOST and MONGODB_URI are passed through.
import { spawn, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const example = join(root, 'examples', 'orders-api')
const variants = {
  express: { entry: 'src/main.ts', adapter: '@lifeguard/express' },
  koa: { entry: 'src/koa.ts', adapter: '@lifeguard/koa' },
  hono: { entry: 'src/hono.ts', adapter: '@lifeguard/hono' },
}

const name = process.argv[2] ?? 'express'
const variant = variants[name]
if (variant === undefined) {
  console.error(`Unknown variant '${name}'. Use one of: ${Object.keys(variants).join(', ')}.`)
  process.exit(2)
}
if (!existsSync(join(root, 'node_modules', '.bin', 'turbo'))) {
  console.error('Dependencies are not installed. Run `npm ci` first.')
  process.exit(1)
}

// Read before the build: npm killed while it runs re-parents this script, and a parent read after would be
// the new one, never seen to change.
const parent = process.ppid

// Only what this run imports: core, the PostgreSQL adapter, the framework adapter, the metrics plugin
// (turbo builds their dependencies first), and the MongoDB adapter when a MongoDB pool is wanted.
const packages = ['@lifeguard/postgres', variant.adapter, '@lifeguard/otel']
if (process.env.MONGODB_URI) packages.push('@lifeguard/mongodb')
console.log(`Building ${packages.join(', ')} ...`)
const build = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only', ...packages.map((p) => `--filter=${p}`)], {
  cwd: root,
  stdio: 'inherit',
})
if (build.status !== 0) {
  console.error('The build failed; see the errors above.')
  process.exit(build.status ?? 1)
}
// npm gone during the build: no service to start for nobody.
if (process.ppid !== parent) process.exit(1)

// The service runs in its own process group: a terminal's Ctrl-C then reaches only this script, which
// passes it on. Otherwise it would also reach the embedded PostgreSQL (a child of the service) directly,
// and the database would stop before the service finished its in-flight requests.
// With this script's pid, the service sees when this script died without passing a signal on (SIGKILL),
// and shuts down instead of living on unsupervised. (Not an IPC channel: tsx takes one for its own.)
const child = spawn(process.execPath, ['--import', 'tsx', variant.entry], {
  cwd: example,
  stdio: ['ignore', 'inherit', 'inherit'],
  env: { ...process.env, ORDERS_API_WRAPPER_PID: String(process.pid) },
  detached: true,
})
// Every signal, not only the first: a second Ctrl-C is how a user stops a shutdown that a request holds. The
// service tells that from a copy of the first (npm relays a terminal's Ctrl-C to this script, which the
// terminal reached too) by when it comes.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal === 'SIGHUP' ? 'SIGTERM' : signal))
// npm does not pass every signal on (SIGHUP ends it alone), and SIGKILL ends it with nothing passed on: when
// the process that started this one is gone, this one is re-parented, and leaves. The service, which watches
// this process (ORDERS_API_WRAPPER_PID), then stops as on SIGTERM and says why ('npm start is gone'); its
// output still goes where npm's went.
setInterval(() => {
  if (process.ppid !== parent) process.exit(1)
}, 500).unref()
child.on('exit', (code, signal) => {
  process.exit(code ?? (signal ? 1 : 0))
})
