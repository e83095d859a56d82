// Runs a quick-start program (argv[2]) and tells the parent when its top-level code, awaits included, has
// finished: from then on, a program still running is a server or a worker, waiting for requests or SIGTERM.
import { pathToFileURL } from 'node:url'

const program = process.argv[2]
process.argv.splice(1, 2, program) // as if the program had been run directly
await import(pathToFileURL(program).href)
process.send?.({ type: 'ready' })
