// What a request scope costs whose service has an async disposer (a request that used `context.postgres`):
// create the scope, resolve the service, dispose the scope, in a loop, with AsyncLocalStorage active (on
// Node 20 every promise then pays its hooks). Prints the median of seven runs of 100,000 scopes.
//
//   node bench/tools/dispose-cost.mjs [path to @lifeguard/core's dist/index.js]
//
// To compare two versions, run it against each build in turn, alone on the machine, a few times each.
import { AsyncLocalStorage } from 'node:async_hooks'
import { pathToFileURL } from 'node:url'

const entry = process.argv[2] ?? new URL('../../core/dist/index.js', import.meta.url).pathname
const { createServiceContainer } = await import(pathToFileURL(entry).href)
const container = createServiceContainer().scoped('handle', () => ({ async [Symbol.asyncDispose]() {} }))

async function once() {
  const scope = container.createScope()
  scope.resolve('handle')
  await scope.dispose()
}

const runs = []
await new AsyncLocalStorage().run({}, async () => {
  for (let i = 0; i < 50_000; i++) await once()
  for (let run = 0; run < 7; run++) {
    const started = process.hrtime.bigint()
    for (let i = 0; i < 100_000; i++) await once()
    runs.push(Number(process.hrtime.bigint() - started) / 100_000)
  }
})
runs.sort((a, b) => a - b)
process.stdout.write(`${entry}: median ${runs[3].toFixed(0)} ns per scope (runs ${runs.map((ns) => ns.toFixed(0)).join(' ')}; Node ${process.version})\n`)
