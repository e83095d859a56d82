// Proves the harness end to end with two trivial cases: building the same small JSON document
// with a template string (standing in for "Lifeguard") and with JSON.stringify (the baseline).
import { interleave, samplesOf } from './lib/interleave.js'
import { opsPerSecond } from './lib/measure.js'
import { byMode } from './lib/quick.js'
import { compare, report } from './lib/report.js'
import { median, p99 } from './lib/stats.js'

const order = { id: 42, status: 'paid', total: 1999 }
let sink = 0 // consumed below so the work cannot be optimised away

// The id changes on every call so neither case can be folded into a constant.
function viaTemplate(): void {
  order.id += 1
  sink += `{"id":${order.id},"status":"${order.status}","total":${order.total}}`.length
}

function viaStringify(): void {
  order.id += 1
  sink += JSON.stringify(order).length
}

async function main(): Promise<void> {
  const sampleMillis = byMode({ full: 200, quick: 20 })
  const results = await interleave(
    [
      { name: 'template-string', run: () => opsPerSecond(viaTemplate, sampleMillis) },
      { name: 'JSON.stringify', run: () => opsPerSecond(viaStringify, sampleMillis) },
    ],
    { rounds: byMode({ full: 10, quick: 5 }) },
  )
  const template = samplesOf(results, 'template-string')
  const stringify = samplesOf(results, 'JSON.stringify')
  const nanosPerOp = (samples: number[]) => samples.map((opsPerSec) => 1e9 / opsPerSec)
  const rows = [
    compare({
      case: 'template-string',
      metric: 'ops/s (median)',
      value: median(template),
      baseline: 'JSON.stringify',
      baselineValue: median(stringify),
      better: 'higher',
    }),
    compare({
      case: 'template-string',
      metric: 'ns/op (p99 of rounds)',
      value: p99(nanosPerOp(template)),
      baseline: 'JSON.stringify',
      baselineValue: p99(nanosPerOp(stringify)),
      better: 'lower',
    }),
  ]
  await report('harness-selftest', rows)
  if (sink === 0) throw new Error('No work was done.')
}

main().catch((error: unknown) => {
  console.error(error)
  process.exitCode = 1
})
