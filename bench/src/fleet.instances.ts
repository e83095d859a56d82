// The fleet benchmark's service instances: N processes running fleet.instance.ts, started once and
// reused for every run (each run builds a fresh registry and pool in them).
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { FromInstance, InstanceResult, RunSpec, ToInstance } from './fleet.protocol.js'

const SCRIPT = fileURLToPath(new URL('./fleet.instance.ts', import.meta.url))
const TSX = import.meta.resolve('tsx')

/** N instance processes, addressed by index. */
export class Fleet {
  readonly #children: ChildProcess[] = []

  private constructor() {}

  /** Starts `count` instance processes and waits until each is ready. */
  static async start(count: number): Promise<Fleet> {
    const fleet = new Fleet()
    try {
      await Promise.all(
        Array.from({ length: count }, async () => {
          const child = fork(SCRIPT, [], { execArgv: ['--import', TSX], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
          fleet.#children.push(child)
          await next(child, 'ready')
        }),
      )
    } catch (error) {
      fleet.kill()
      throw error
    }
    return fleet
  }

  get size(): number {
    return this.#children.length
  }

  /** Every instance builds its pool for a run. */
  async begin(spec: RunSpec): Promise<void> {
    await Promise.all(this.#children.map((child, index) => this.#ask(child, { type: 'start', spec, index }, 'started')))
  }

  /** Sets one instance's load. */
  load(index: number, mode: 'hot' | 'calm', measuring: boolean): void {
    send(this.#children[index] as ChildProcess, { type: 'load', mode, measuring })
  }

  /** Every instance stops its load, closes its pool and reports. */
  async end(): Promise<InstanceResult[]> {
    return Promise.all(
      this.#children.map(async (child) => {
        const message = await this.#ask(child, { type: 'stop' }, 'result')
        return (message as Extract<FromInstance, { type: 'result' }>).result
      }),
    )
  }

  /** Asks every instance to exit, then kills those that did not within a second. */
  async close(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            const timer = setTimeout(() => child.kill('SIGKILL'), 1000)
            child.once('exit', () => {
              clearTimeout(timer)
              resolve()
            })
            if (child.connected) send(child, { type: 'exit' })
            else child.kill()
          }),
      ),
    )
  }

  kill(): void {
    for (const child of this.#children) if (child.exitCode === null) child.kill('SIGKILL')
  }

  async #ask(child: ChildProcess, message: ToInstance, answer: FromInstance['type']): Promise<FromInstance> {
    const reply = next(child, answer)
    send(child, message)
    return reply
  }
}

function send(child: ChildProcess, message: ToInstance): void {
  child.send(message)
}

/** The next message of type `type` from `child`; rejects on a `failed` message or if the child exits. */
function next(child: ChildProcess, type: FromInstance['type']): Promise<FromInstance> {
  return new Promise((resolve, reject) => {
    const onMessage = (message: FromInstance) => {
      if (message.type === 'failed') {
        cleanup()
        reject(new Error(`An instance failed: ${message.error}`))
      } else if (message.type === type) {
        cleanup()
        resolve(message)
      }
    }
    const onExit = (code: number | null, signal: string | null) => {
      cleanup()
      reject(new Error(`An instance exited (${signal ?? `code ${code}`}) while the benchmark waited for '${type}'.`))
    }
    const cleanup = () => {
      child.off('message', onMessage)
      child.off('exit', onExit)
    }
    child.on('message', onMessage)
    child.on('exit', onExit)
  })
}
