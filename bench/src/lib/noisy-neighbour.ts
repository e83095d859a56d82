// A noisy neighbour: a separate process that burns a share of one core, the way another tenant's job
// would on a shared machine. It runs in its own session (so Linux's autogroup scheduler treats it as
// another user's job, not as part of the benchmark) and exits by itself if the benchmark dies.
import { spawn, type ChildProcess } from 'node:child_process'
import { processCpuMillis } from './cpu-time.js'
import { pinnedCommand } from './pinning.js'

/** Options for {@link startNoisyNeighbour}. */
export interface NoisyNeighbourOptions {
  /** Share of one core to burn, in (0, 1]; default 0.5. */
  share?: number
  /** Length of one busy-then-idle cycle in ms; default 20 (10 ms busy, 10 ms idle at 0.5). */
  periodMillis?: number
  /** Pin it to this core when `taskset` works; default the last core. */
  core?: number
}

/** A running neighbour. */
export interface NoisyNeighbour {
  readonly pid: number
  /** Stops it and returns the share of one core it actually used while it ran. */
  stop(): Promise<number>
}

// Busy for `busy` ms, then asleep (Atomics.wait: no timer jitter) for the rest of the period; leaves when
// its parent is gone.
const BURNER = `
const [busy, period, parent] = process.argv.slice(1).map(Number)
const sleeper = new Int32Array(new SharedArrayBuffer(4))
for (;;) {
  const end = performance.now() + busy
  while (performance.now() < end);
  Atomics.wait(sleeper, 0, 0, period - busy)
  if (process.ppid !== parent) process.exit(0)
}
`

/**
 * Starts a process that burns `share` of one core until `stop()`.
 *
 * @throws {RangeError} for a share outside (0, 1]
 * @example
 * const neighbour = await startNoisyNeighbour({ share: 0.5 })
 * try { await runTheBenchmark() } finally { console.log(await neighbour.stop()) }
 */
export async function startNoisyNeighbour(options: NoisyNeighbourOptions = {}): Promise<NoisyNeighbour> {
  const share = options.share ?? 0.5
  const period = options.periodMillis ?? 20
  if (!(share > 0 && share <= 1)) throw new RangeError(`Expected \`share\` to be within (0, 1], got \`${share}\``)
  const core = options.core ?? (await import('node:os')).availableParallelism() - 1
  const [file, ...args] = pinnedCommand(core, process.execPath, ['-e', BURNER, String(share * period), String(period), String(process.pid)])
  const child: ChildProcess = spawn(file, args, { detached: true, stdio: 'ignore' })
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve)
    child.once('error', reject)
  })
  const pid = child.pid as number
  const kill = () => child.kill('SIGKILL')
  process.once('exit', kill)
  const started = performance.now()
  return {
    pid,
    async stop() {
      let used = 0
      try {
        used = processCpuMillis(pid) / (performance.now() - started)
      } catch {
        // Already gone: nothing to measure.
      }
      process.off('exit', kill)
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        kill()
        await exited
      }
      return used
    },
  }
}
