// Child process of runAutocannonPinned: runs one load (warm-up and measured run) and reports on
// stdout as JSON lines, marking when the measured run starts so the parent can read server CPU.
import { runAutocannon, type HttpLoadOptions } from './http-load.js'

const send = (message: object) => process.stdout.write(JSON.stringify(message) + '\n')

const options = JSON.parse(process.argv[2] ?? '{}') as HttpLoadOptions
runAutocannon(options, () => send({ event: 'measure-start' })).then(
  (result) => send({ event: 'result', result }),
  (error: unknown) => {
    send({ event: 'error', error: error instanceof Error ? error.message : String(error) })
    process.exitCode = 1
  },
)
