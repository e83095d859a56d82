// Pinning child processes to CPU cores with taskset, so a server and its load generator do not
// compete for the same core.
import { execFileSync } from 'node:child_process'

const probed = new Map<number, boolean>()
let warned = false

/**
 * Whether `taskset -c core` works here (Linux with util-linux, and the core exists and is allowed).
 * Warns once on stderr when it does not: the numbers are then noisier.
 *
 * @example
 * const argv = canPin(1) ? ['taskset', '-c', '1', ...command] : command
 */
export function canPin(core: number): boolean {
  let ok = probed.get(core)
  if (ok === undefined) {
    try {
      execFileSync('taskset', ['-c', String(core), 'true'], { stdio: 'ignore' })
      ok = true
    } catch {
      ok = false
    }
    probed.set(core, ok)
  }
  if (!ok && !warned) {
    warned = true
    process.stderr.write(`warning: cannot pin to core ${core} with taskset; running unpinned\n`)
  }
  return ok
}

/**
 * The command and arguments that run `command args` pinned to `core` when possible.
 *
 * @example
 * const [file, ...argv] = pinnedCommand(0, process.execPath, ['server.js'])
 */
export function pinnedCommand(core: number, command: string, args: readonly string[]): [string, ...string[]] {
  return canPin(core) ? ['taskset', '-c', String(core), command, ...args] : [command, ...args]
}
