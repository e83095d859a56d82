// HTTP load with autocannon: in this process, or in a child pinned to its own core while the
// server runs pinned to another, measuring the server's CPU time per request.
import autocannon, { type Options, type Result } from 'autocannon'
import { stopChildProcess } from '@lifeguard/test-kit'
import { spawn } from 'node:child_process'
import { resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { processCpuMillis } from './cpu-time.js'
import { LatencySample } from './latency-sample.js'
import { LISTENING_PREFIX } from './listening.js'
import { pinnedCommand } from './pinning.js'

/** Options for {@link runAutocannon} and {@link runAutocannonPinned}. */
export interface HttpLoadOptions {
  url: string
  /** Concurrent connections; default 50. */
  connections?: number
  /** Measured duration; default 10000. */
  durationMillis?: number
  /** Load run first and discarded (JIT, pools, keep-alive sockets); default 2000, 0 for none. */
  warmupMillis?: number
  /** Requests in flight per connection; default 1. */
  pipelining?: number
  method?: Options['method']
  headers?: Record<string, string>
  body?: string
  /** Accept connection errors and non-2xx responses instead of throwing; default false. */
  allowErrors?: boolean
}

/** What one measured load run produced. */
export interface HttpLoadResult {
  /** Responses received in the measured run. */
  requests: number
  requestsPerSec: number
  latencyP50Millis: number
  latencyP99Millis: number
  latencyMeanMillis: number
  errors: number
  timeouts: number
  non2xx: number
  durationMillis: number
}

/** Options for {@link runAutocannonPinned}. */
export interface PinnedLoadOptions extends HttpLoadOptions {
  /** Core the load generator runs on; default 1. */
  core?: number
  /** The server under load, to measure its CPU time during the measured run. */
  server?: PinnedServer
}

/** {@link HttpLoadResult} plus the server's CPU time when a server was given. */
export interface PinnedLoadResult extends HttpLoadResult {
  /** Server CPU (user + system) used during the measured run. */
  serverCpuMillis?: number
  /** `serverCpuMillis` per completed request, in microseconds. */
  cpuMicrosPerRequest?: number
}

/** A server script running in a child process; see {@link spawnPinnedServer}. */
export interface PinnedServer {
  readonly url: string
  readonly pid: number
  /** CPU time the server has used so far, in milliseconds. */
  cpuMillis(): number
  /** Stops the server (SIGTERM, then SIGKILL). Idempotent. */
  close(): Promise<void>
}

/** Options for {@link spawnPinnedServer}. */
export interface SpawnServerOptions {
  env?: Record<string, string>
  /** Milliseconds to wait for the server to announce itself; default 15000. */
  startTimeoutMillis?: number
}

const TSX = import.meta.resolve('tsx')
const AUTOCANNON_CHILD = fileURLToPath(new URL('./autocannon-child.ts', import.meta.url))

// autocannon's own histogram holds whole milliseconds, which reads 0 for most loopback requests:
// latencies come from its per-response event instead, which carries fractional milliseconds.
function autocannonOnce(options: HttpLoadOptions, durationMillis: number, latencies?: LatencySample): Promise<Result> {
  return new Promise((resolvePromise, reject) => {
    const instance = autocannon(
      {
        url: options.url,
        connections: options.connections ?? 50,
        duration: durationMillis / 1000,
        pipelining: options.pipelining ?? 1,
        ...(options.method === undefined ? {} : { method: options.method }),
        ...(options.headers === undefined ? {} : { headers: options.headers }),
        ...(options.body === undefined ? {} : { body: options.body }),
      },
      (error, result) => (error ? reject(error) : resolvePromise(result)),
    )
    if (latencies) {
      instance.on('response', (_client, statusCode, _bytes, responseTimeMillis) => {
        if (statusCode >= 200 && statusCode < 300) latencies.record(responseTimeMillis)
      })
    }
  })
}

/**
 * Runs autocannon in this process: a discarded warm-up, then the measured run. Requests per
 * second are completed responses over the measured wall time; latencies are those of 2xx
 * responses, in fractional milliseconds.
 *
 * @throws {Error} on connection errors or non-2xx responses unless `allowErrors`
 * @example
 * const { requestsPerSec, latencyP99Millis } = await runAutocannon({ url, durationMillis: 5000 })
 */
export async function runAutocannon(
  options: HttpLoadOptions,
  onMeasureStart?: () => void,
): Promise<HttpLoadResult> {
  const warmupMillis = options.warmupMillis ?? 2000
  if (warmupMillis > 0) await autocannonOnce(options, warmupMillis)
  onMeasureStart?.()
  const latencies = new LatencySample()
  const raw = await autocannonOnce(options, options.durationMillis ?? 10_000, latencies)
  const { p50Millis, p99Millis, meanMillis } = latencies.summary()
  const result: HttpLoadResult = {
    requests: raw.requests.total,
    requestsPerSec: raw.requests.total / raw.duration,
    latencyP50Millis: p50Millis,
    latencyP99Millis: p99Millis,
    latencyMeanMillis: meanMillis,
    errors: raw.errors,
    timeouts: raw.timeouts,
    non2xx: raw.non2xx,
    durationMillis: raw.duration * 1000,
  }
  if (!options.allowErrors && (result.errors > 0 || result.non2xx > 0 || result.requests === 0)) {
    throw new Error(
      `Could not load '${options.url}' cleanly. ${result.requests} responses, ` +
        `${result.errors} errors (${result.timeouts} timeouts), ${result.non2xx} non-2xx.`,
    )
  }
  return result
}

/**
 * Runs autocannon in a child process pinned to `core` (default 1), so the load generator does not
 * steal CPU from a server pinned elsewhere. With `server`, also measures the server's CPU time
 * during the measured run and derives CPU per request.
 *
 * @throws {Error} when the load run fails or is not clean (see {@link runAutocannon})
 * @example
 * const server = await spawnPinnedServer('bench/src/servers/express.ts', [], 0)
 * const result = await runAutocannonPinned({ url: `${server.url}/orders`, server })
 * result.cpuMicrosPerRequest
 */
export async function runAutocannonPinned(options: PinnedLoadOptions): Promise<PinnedLoadResult> {
  const { core = 1, server, ...load } = options
  const [command, ...args] = pinnedCommand(core, process.execPath, ['--import', TSX, AUTOCANNON_CHILD, JSON.stringify(load)])
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
  let cpuAtStart: number | undefined
  let message: { result?: HttpLoadResult; error?: string } | undefined
  const lines = createInterface({ input: child.stdout })
  lines.on('line', (line) => {
    const parsed = JSON.parse(line) as { event: string; result?: HttpLoadResult; error?: string }
    if (parsed.event === 'measure-start') cpuAtStart = server?.cpuMillis()
    else message = parsed
  })
  const [code] = await new Promise<[number | null]>((resolvePromise) => child.once('close', (exitCode) => resolvePromise([exitCode])))
  const cpuAtEnd = server?.cpuMillis()
  if (message?.error !== undefined) throw new Error(message.error)
  if (code !== 0 || !message?.result) throw new Error(`Could not run autocannon. Its process exited with ${code}.`)
  const result: PinnedLoadResult = message.result
  if (cpuAtStart !== undefined && cpuAtEnd !== undefined) {
    result.serverCpuMillis = cpuAtEnd - cpuAtStart
    result.cpuMicrosPerRequest = (result.serverCpuMillis * 1000) / result.requests
  }
  return result
}

/**
 * Starts a server script (TypeScript or JavaScript) in a child process pinned to `core` (default
 * 0). The script must listen on 127.0.0.1 port 0 and call `announceListening(server)`.
 *
 * @throws {Error} when the script exits or stays silent for `startTimeoutMillis`
 * @example
 * const server = await spawnPinnedServer('bench/src/servers/hono.ts', ['--lifeguard'], 0)
 * try { ... } finally { await server.close() }
 */
export async function spawnPinnedServer(
  script: string,
  args: readonly string[] = [],
  core = 0,
  options: SpawnServerOptions = {},
): Promise<PinnedServer> {
  const [command, ...argv] = pinnedCommand(core, process.execPath, ['--import', TSX, resolve(script), ...args])
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...options.env } })
  const pid = child.pid
  if (pid === undefined) throw new Error(`Could not start '${script}'.`)
  const timeoutMillis = options.startTimeoutMillis ?? 15_000
  const url = await new Promise<string>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`Could not start '${script}'. It did not announce a URL within ${timeoutMillis}ms.`))
    }, timeoutMillis)
    const onExit = (code: number | null) => {
      clearTimeout(timer)
      reject(new Error(`Could not start '${script}'. It exited with ${code} before listening.`))
    }
    child.once('exit', onExit)
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith(LISTENING_PREFIX)) {
        clearTimeout(timer)
        child.off('exit', onExit)
        resolvePromise(line.slice(LISTENING_PREFIX.length).trim())
      } else {
        process.stderr.write(`[server] ${line}\n`) // keep stdout for the report table
      }
    })
  })
  // A benchmark that crashes must not leave a server spinning on a pinned core.
  const killOnExit = () => child.kill('SIGKILL')
  process.once('exit', killOnExit)
  let closing: Promise<void> | undefined
  return {
    url,
    pid,
    cpuMillis: () => processCpuMillis(pid),
    close() {
      closing ??= stopChildProcess(child, 3000).then(() => {
        process.off('exit', killOnExit)
      })
      return closing
    },
  }
}
