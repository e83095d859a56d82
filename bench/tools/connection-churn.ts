// What opening and closing PostgreSQL connections costs the machine, in CPU time (this process, the
// server's backends and the kernel together, from /proc/stat: Linux only). A pool that resizes pays it
// for every connection it adds or takes away, so it bounds how often resizing can pay.
//
//   node --import tsx bench/tools/connection-churn.ts [--connections 32] [--rounds 5]
//
// Run it with nothing else busy: the CPU of every process on the machine is counted. It prints one line
// per round and the medians (its output, as every benchmark's).
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import { countArg } from '../src/lib/args.js'
import { median } from '../src/lib/stats.js'
import { pgConnection } from '../src/lib/pg-connection.js'

/** Busy CPU time of the whole machine so far (ms): user, nice and system. */
function busyMillis(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number)
  const [user = 0, nice = 0, system = 0] = fields
  return (user + nice + system) * 10 // USER_HZ is 100 on Linux
}

/** Busy CPU time of `work` and of the `settleMillis` after it (a backend exits after its socket closed). */
async function measure(work: () => Promise<void>, settleMillis: number): Promise<{ wallMillis: number; cpuMillis: number }> {
  const cpu = busyMillis()
  const started = performance.now()
  await work()
  const wallMillis = performance.now() - started
  await new Promise((resolve) => setTimeout(resolve, settleMillis))
  return { wallMillis, cpuMillis: busyMillis() - cpu }
}

const args = process.argv.slice(2)
const connections = countArg(args, '--connections', 32, 500)
const rounds = countArg(args, '--rounds', 5, 100)
const settleMillis = 300
const idle = await measure(async () => undefined, settleMillis)
const opens: number[] = []
const closes: number[] = []
for (let round = 0; round < rounds; round++) {
  let clients: pg.Client[] = []
  const open = await measure(async () => {
    clients = await Promise.all(
      Array.from({ length: connections }, async () => {
        const client = new pg.Client({ ...pgConnection(), application_name: 'bench-connection-churn' })
        await client.connect()
        await client.query('SELECT 1')
        return client
      }),
    )
  }, settleMillis)
  const close = await measure(() => Promise.all(clients.map((client) => client.end())).then(() => undefined), settleMillis)
  opens.push(open.cpuMillis - idle.cpuMillis)
  closes.push(close.cpuMillis - idle.cpuMillis)
  console.log(`round ${round + 1}: open ${connections} in ${open.wallMillis.toFixed(0)} ms, ${open.cpuMillis} ms CPU; close in ${close.wallMillis.toFixed(0)} ms, ${close.cpuMillis} ms CPU`)
}
const perConnection = (values: number[]) => (median(values) / connections).toFixed(1)
console.log(`median CPU per connection: open ${perConnection(opens)} ms, close ${perConnection(closes)} ms (idle ${idle.cpuMillis} ms per ${settleMillis} ms subtracted); load average ${loadavg().map((n) => n.toFixed(2)).join(' ')}`)
