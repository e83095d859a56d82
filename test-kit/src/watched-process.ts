import { spawn, type ChildProcess } from 'node:child_process'

/** How a process ended. */
export interface ProcessExit {
  code: number | null
  signal: NodeJS.Signals | null
}

/** A child process whose output a test can wait on. */
export interface WatchedProcess {
  readonly child: ChildProcess
  /** Everything it printed so far (stdout and stderr). */
  output(): string
  /** Resolves with the first capture group (or the whole match) once `pattern` has been printed. */
  waitFor(pattern: RegExp, timeoutMillis: number): Promise<string>
  /** Sends `signal` (default SIGTERM) unless it has exited, and resolves with how it ended. */
  stop(signal?: NodeJS.Signals): Promise<ProcessExit>
  /** Resolves with how the process ended, whenever it does. */
  readonly exited: Promise<ProcessExit>
}

/** Options of {@link watchProcess}. */
export interface WatchProcessOptions {
  cwd: string
  /** Changes to the environment of this process: `undefined` removes a variable. */
  env?: Readonly<Record<string, string | undefined>>
  /** Start from a clean shell's environment: drop the `npm_*` variables of the `npm test` that runs the tests. */
  asFromShell?: boolean
  /**
   * Lead a process group (and session) of its own, as a command a terminal runs in the foreground:
   * `process.kill(-child.pid, 'SIGINT')` is then a Ctrl-C in that terminal.
   */
  ownProcessGroup?: boolean
}

/**
 * Starts `command` with piped output that `waitFor` can match, e.g. a service started the way its
 * README says (`npm start`), so a test can signal it and check how it ends.
 *
 * @example
 * const service = watchProcess('npm', ['start'], { cwd: root, env: { PORT: '0' }, asFromShell: true })
 * await service.waitFor(/listening on (\S+)/, 30_000)
 * assert.equal(await service.stop('SIGTERM'), { code: 0, signal: null })
 */
export function watchProcess(command: string, args: readonly string[], options: WatchProcessOptions): WatchedProcess {
  const env: NodeJS.ProcessEnv = { ...process.env }
  if (options.asFromShell) for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key]
  for (const [key, value] of Object.entries(options.env ?? {})) {
    if (value === undefined) delete env[key]
    else env[key] = value
  }
  const child = spawn(command, args, { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: options.ownProcessGroup === true })
  let output = ''
  const watchers = new Set<() => void>()
  const collect = (chunk: Buffer): void => {
    output += chunk.toString()
    for (const check of watchers) check()
  }
  child.stdout.on('data', collect)
  child.stderr.on('data', collect)
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      resolve({ code, signal })
      for (const check of watchers) check()
    })
  })
  const name = [command, ...args].join(' ')

  const waitFor = (pattern: RegExp, timeoutMillis: number): Promise<string> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const match = pattern.exec(output)
        if (match !== null) return done(() => resolve(match[1] ?? match[0]))
        if (child.exitCode !== null || child.signalCode !== null) done(() => reject(new Error(`\`${name}\` exited (${child.exitCode ?? child.signalCode}) before printing ${pattern}. Output:\n${output}`)))
      }
      const timer = setTimeout(() => done(() => reject(new Error(`\`${name}\` did not print ${pattern} within ${timeoutMillis}ms. Output:\n${output}`))), timeoutMillis)
      const done = (settle: () => void): void => {
        clearTimeout(timer)
        watchers.delete(check)
        settle()
      }
      watchers.add(check)
      check()
    })

  return {
    child,
    output: () => output,
    waitFor,
    exited,
    stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal)
      return exited
    },
  }
}
