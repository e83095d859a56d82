// CPU time of another process, read from Linux's /proc, for CPU-per-request figures.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'

let clockTicksPerSecond: number | undefined

function ticksPerSecond(): number {
  if (clockTicksPerSecond === undefined) {
    try {
      clockTicksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
    } catch {
      clockTicksPerSecond = 100 // the Linux default
    }
  }
  return clockTicksPerSecond
}

/**
 * User plus system CPU time a process (all its threads) has used so far, in milliseconds, from
 * `/proc/PID/stat`. Resolution is one clock tick (usually 10ms): measure over seconds, not
 * milliseconds.
 *
 * @throws {Error} when the process does not exist or /proc is unavailable (not Linux)
 * @example
 * const before = processCpuMillis(server.pid)
 */
export function processCpuMillis(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[11]) // field 14
  const stime = Number(fields[12]) // field 15
  return ((utime + stime) * 1000) / ticksPerSecond()
}
