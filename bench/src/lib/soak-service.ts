// The example service (examples/orders-api) as a child process, started as `npm start` starts it but
// with `--expose-gc` and the heap probe preloaded, so the bench can ask for its heap after a GC over IPC.
import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { HEAP_MESSAGE, type HeapAnswer } from './heap-probe.js'

/** The frameworks the example comes in, and the entry file of each. */
export const FRAMEWORK_ENTRIES = { express: 'src/main.ts', koa: 'src/koa.ts', hono: 'src/hono.ts' } as const

/** One of the example's frameworks. */
export type Framework = keyof typeof FRAMEWORK_ENTRIES

/** What `GET /metrics/pools` says about the `orders` pool (the fields the soak reads). */
export interface PoolCounts {
  totalConnections: number
  activeConnections: number
  idleConnections: number
  waitingRequests: number
  minSize: number
  errors: number
  timeouts: number
  leaks: number
}

/** Options of {@link startSoakService}. */
export interface SoakServiceOptions {
  framework: Framework
  databaseUrl: string
  /** `APP_NAME`: the pool's `application_name`, to count its connections on the server. */
  applicationName: string
  /** Milliseconds to wait for the `listening on` line; default 60000 (a busy machine starts slowly). */
  startTimeoutMillis?: number
}

/** A running service. */
export interface SoakService {
  readonly url: string
  readonly pid: number
  /** `heapUsed` in bytes right after a full GC in the service. */
  heapAfterGc(timeoutMillis?: number): Promise<number>
  /** The `orders` pool's own counts, or `undefined` when the service does not answer. */
  poolCounts(): Promise<PoolCounts | undefined>
  /** The last lines the service printed. */
  lastLines(): string[]
  /** How many printed lines so far matched the pattern given under `name` to {@link startSoakService}. */
  linesMatching(name: string): number
  /** SIGTERM, then SIGKILL after `timeoutMillis`; resolves with the exit code (null when killed). */
  stop(timeoutMillis?: number): Promise<number | null>
}

const exampleDir = fileURLToPath(new URL('../../../examples/orders-api/', import.meta.url))
const TSX = import.meta.resolve('tsx')
const PROBE = new URL('./heap-probe.ts', import.meta.url).href
const KEPT_LINES = 200

/**
 * Starts the example on a free loopback port and resolves once it printed its banner.
 *
 * @param counted - named patterns whose matching output lines are counted (e.g. unexpected-error logs)
 * @throws {Error} with the service's output when it exits or does not listen in time
 */
export async function startSoakService(options: SoakServiceOptions, counted: Record<string, RegExp> = {}): Promise<SoakService> {
  const env = { ...process.env, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: options.databaseUrl, APP_NAME: options.applicationName }
  const child = spawn(process.execPath, ['--expose-gc', '--import', TSX, '--import', PROBE, FRAMEWORK_ENTRIES[options.framework]], {
    cwd: exampleDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  })
  const lines: string[] = []
  const counts = new Map<string, number>()
  let partial = ''
  let onLine: ((line: string) => void) | undefined
  const collect = (chunk: Buffer): void => {
    const parts = (partial + chunk.toString()).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      lines.push(line)
      if (lines.length > KEPT_LINES) lines.shift()
      for (const [name, pattern] of Object.entries(counted)) if (pattern.test(line)) counts.set(name, (counts.get(name) ?? 0) + 1)
      onLine?.(line)
    }
  }
  child.stdout?.on('data', collect)
  child.stderr?.on('data', collect)
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))

  let started = false
  const url = await new Promise<string>((resolve, reject) => {
    const fail = (why: string): void => {
      if (started) return
      child.kill('SIGKILL')
      reject(new Error(`Could not start the ${options.framework} service: ${why}. Output:\n${lines.join('\n')}`))
    }
    const timer = setTimeout(() => fail(`no banner within ${options.startTimeoutMillis ?? 60_000}ms`), options.startTimeoutMillis ?? 60_000)
    let listening: string | undefined
    onLine = (line) => {
      listening ??= /listening on (http:\/\/\S+)/.exec(line)?.[1]
      // The banner ends with how to stop it: the service is fully up then.
      if (listening !== undefined && line.includes('stop with Ctrl-C')) {
        clearTimeout(timer)
        onLine = undefined
        started = true
        resolve(listening)
      }
    }
    void exited.then((code) => {
      if (started) return
      clearTimeout(timer)
      fail(`it exited (${code})`)
    })
  })

  let nextId = 0
  return {
    url,
    pid: child.pid as number,
    heapAfterGc: (timeoutMillis = 10_000) => askHeap(child, ++nextId, timeoutMillis),
    async poolCounts() {
      try {
        const response = await fetch(`${url}/metrics/pools`, { signal: AbortSignal.timeout(5_000) })
        if (!response.ok) return undefined
        return ((await response.json()) as Record<string, PoolCounts>)['orders']
      } catch {
        return undefined
      }
    },
    lastLines: () => [...lines],
    linesMatching: (name) => counts.get(name) ?? 0,
    async stop(timeoutMillis = 30_000) {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode
      // The IPC channel would keep the service's event loop alive: close it before asking it to stop.
      if (child.connected) child.disconnect()
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMillis)
      const code = await exited
      clearTimeout(timer)
      return code
    },
  }
}

function askHeap(child: ChildProcess, id: number, timeoutMillis: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: Partial<HeapAnswer>): void => {
      if (message?.type !== HEAP_MESSAGE || message.id !== id || typeof message.heapUsed !== 'number') return
      done()
      resolve(message.heapUsed)
    }
    const timer = setTimeout(() => {
      done()
      reject(new Error(`The service did not report its heap within ${timeoutMillis}ms.`))
    }, timeoutMillis)
    const done = (): void => {
      clearTimeout(timer)
      child.off('message', onMessage)
    }
    child.on('message', onMessage)
    // With a callback, a closed channel (the service died) is a rejection here, not an 'error' event.
    child.send({ type: HEAP_MESSAGE, id }, (error) => {
      if (error === null) return
      done()
      reject(new Error(`Could not ask the service for its heap (exit code ${child.exitCode ?? child.signalCode ?? 'none yet'}). ${error.message}`))
    })
  })
}
