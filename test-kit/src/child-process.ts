import type { ChildProcess } from 'node:child_process'

/**
 * Stops a child process: SIGTERM, then SIGKILL if it has not exited after `graceMillis`. Resolves once it
 * exited (at once when it already had).
 */
export function stopChildProcess(child: ChildProcess, graceMillis: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), graceMillis)
    child.once('exit', () => {
      clearTimeout(force)
      resolve()
    })
    child.kill('SIGTERM')
  })
}
