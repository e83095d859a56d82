// The pool engine's checkout path in two builds of core, side by side in one process: acquire and release
// back to back with a factory that does nothing (as `pool-acquire` measures it), at concurrency 1 (an idle
// connection always there) and 100 (ten waiters per connection: every checkout goes through the wait
// queue), interleaved rounds of 1 s, median checkouts/s of each and their ratio.
//
//   node bench/tools/engine-checkout-ab.mjs <other core/dist/adapter.js> [rounds]
//
// For a change to the engine's hot path: build the code before it in a second checkout and point this at
// that checkout's core. Run it alone on the machine.
import { pathToFileURL } from 'node:url'

const other = process.argv[2]
if (other === undefined) throw new Error('Usage: node bench/tools/engine-checkout-ab.mjs <other core/dist/adapter.js> [rounds]')
const rounds = Number(process.argv[3] ?? 9)
const builds = {
  this: await import(pathToFileURL(new URL('../../core/dist/adapter.js', import.meta.url).pathname).href),
  other: await import(pathToFileURL(other).href),
}

function engineOf({ PoolEngine, PoolMonitor }) {
  const monitor = new PoolMonitor({ name: 'bench', kind: 'bench', target: 'noop://' })
  const factory = { create: async () => ({}), destroy: () => undefined, isBroken: () => false }
  return new PoolEngine({
    name: 'bench', target: 'noop://', factory, monitor, minSize: 0, maxSize: 10,
    acquireTimeoutMillis: 10_000, connectTimeoutMillis: 10_000, idleTimeoutMillis: 30_000,
    maxLifetimeMillis: 0, maxLifetimeJitterMillis: 0, validateAfterIdleMillis: 2_147_483_647, maxUses: Infinity, retryCreate: true,
  })
}

async function checkoutsPerSecond(engine, concurrency, millis) {
  let count = 0
  const end = performance.now() + millis
  const worker = async () => {
    for (;;) {
      for (let i = 0; i < 64; i++) engine.release(await engine.acquire(undefined))
      count += 64
      if (performance.now() >= end) return
    }
  }
  const started = performance.now()
  await Promise.all(Array.from({ length: concurrency }, worker))
  return count / ((performance.now() - started) / 1000)
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
for (const concurrency of [1, 100]) {
  const engines = { this: engineOf(builds.this), other: engineOf(builds.other) }
  // Warm-up: both engines optimized before anything is counted.
  for (const name of ['this', 'other']) await checkoutsPerSecond(engines[name], concurrency, 1000)
  const samples = { this: [], other: [] }
  for (let round = 0; round < rounds; round++) {
    // The order alternates, so neither always runs right after the collector's work of the other.
    const order = round % 2 === 0 ? ['this', 'other'] : ['other', 'this']
    for (const name of order) samples[name].push(await checkoutsPerSecond(engines[name], concurrency, 1000))
  }
  for (const engine of Object.values(engines)) await engine.close()
  const a = median(samples.this)
  const b = median(samples.other)
  const spread = (values) => `${Math.round(Math.min(...values)).toLocaleString('en-US')} to ${Math.round(Math.max(...values)).toLocaleString('en-US')}`
  console.log(`c=${concurrency}: this ${Math.round(a).toLocaleString('en-US')}/s (${spread(samples.this)}), other ${Math.round(b).toLocaleString('en-US')}/s (${spread(samples.other)}), ratio ${(a / b).toFixed(3)}`)
}
