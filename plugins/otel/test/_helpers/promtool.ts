// Runs promtool (the Prometheus package's CLI) and reports its exit code and output.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

/** What one promtool run printed and how it ended. */
export interface PromtoolResult {
  code: number
  output: string
}

/** The folder holding the example dashboard, alert rules and their unit tests. */
export const observabilityDir = fileURLToPath(new URL('../../../../examples/observability/', import.meta.url))

/** Runs `promtool ...args` in `cwd`, writing `stdin` to it when given. */
export function promtool(args: readonly string[], options: { cwd?: string; stdin?: string } = {}): Promise<PromtoolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', args, { cwd: options.cwd ?? observabilityDir, stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
    child.on('error', (error) => reject(new Error(`Could not run promtool (Debian package \`prometheus\`): ${error.message}`, { cause: error })))
    child.on('close', (code) => resolve({ code: code ?? 1, output }))
    child.stdin.end(options.stdin ?? '')
  })
}
