// Run as `node --import tsx test/_helpers/embedded-at-once.ts` (the service's own loader: uvu's `-r tsx` has no
// `import.meta.resolve`): starts an embedded PostgreSQL in a process of its own, driven by signals. SIGUSR2 stops
// it at once (`stopEmbeddedServersAtOnce`), SIGTERM calls its `stop()`, SIGINT ends the process. One line per step.
import { startEmbeddedPostgres, stopEmbeddedServersAtOnce } from '../../src/embedded-postgres.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)
const message = (error: unknown): string => (error instanceof Error ? error.message : String(error))

const starting = startEmbeddedPostgres()
starting.then(
  (server) => print(`started at ${server.target}`),
  (error: unknown) => print(`start failed: ${message(error)}`),
)
process.on('SIGUSR2', () => {
  print('stopping at once')
  const began = performance.now()
  stopEmbeddedServersAtOnce().then(
    () => print(`stopped at once in ${Math.round(performance.now() - began)}ms`),
    (error: unknown) => print(`stop at once failed: ${message(error)}`),
  )
})
process.on('SIGTERM', () => {
  starting.then((server) => server.stop()).then(
    () => print('stop: ok'),
    (error: unknown) => print(`stop: ${message(error)}`),
  )
})
const alive = setInterval(() => undefined, 60_000)
process.on('SIGINT', () => {
  clearInterval(alive)
  process.exit(0)
})
print('ready for signals')
