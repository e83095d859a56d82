// CPU time of another process, read from Linux's /proc, for CPU-per-request figures.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'

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
  const fields = statFields(pid)
  const utime = Number(fields[11]) // field 14
  const stime = Number(fields[12]) // field 15
  return ((utime + stime) * 1000) / ticksPerSecond()
}

/**
 * CPU time of a process and all its children so far, in milliseconds: its own, that of children it has
 * already reaped (`cutime`, `cstime`), and that of its live children. Made for a server that forks a
 * process per connection, such as PostgreSQL's postmaster; grandchildren that are still alive are not
 * counted (PostgreSQL has none).
 *
 * @throws {Error} when the process does not exist or /proc is unavailable (not Linux)
 * @example
 * const before = processTreeCpuMillis(postmasterPid)
 */
export function processTreeCpuMillis(pid: number): number {
  const fields = statFields(pid)
  // utime, stime, cutime, cstime: fields 14 to 17.
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let child: string[]
    try {
      child = statFields(Number(entry))
    } catch {
      continue // exited while we looked
    }
    if (Number(child[1]) === pid) ticks += Number(child[11]) + Number(child[12]) // field 4 is the parent's pid
  }
  return (ticks * 1000) / ticksPerSecond()
}

// The fields of /proc/PID/stat after the command name, so fields[0] is field 3 (the state).
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces and parentheses: count fields after its last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
}
