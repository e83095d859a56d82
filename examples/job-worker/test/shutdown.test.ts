import { EventEmitter } from 'node:events'
import { ManualClock } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { onShutdownSignal, type ShutdownHost } from '../src/shutdown.js'

// onShutdownSignal on a manual clock, with a stand-in for the process's signals and parent.

function fakeProcess(npmPid: number | undefined) {
  const clock = new ManualClock()
  const signals = new EventEmitter()
  const state = { parent: npmPid ?? 1, calls: [] as string[], lines: [] as string[] }
  const host: ShutdownHost = { signals, npmPid, parentPid: () => state.parent, clock }
  const escalation = onShutdownSignal(
    {
      shutdown: (why) => void state.calls.push(`shutdown: ${why}`),
      force: (why) => void state.calls.push(`force: ${why}`),
    },
    (line) => void state.lines.push(line),
    host,
  )
  return { clock, signals, state, escalation }
}

const Signals = suite('job-worker onShutdownSignal')

Signals('npm start gone, with no shutdown under way, begins one', async () => {
  const { clock, state } = fakeProcess(4242)
  await clock.advance(2_000)
  assert.equal(state.calls, [])
  state.parent = 1
  await clock.advance(500)
  assert.equal(state.calls, ['shutdown: npm start is gone'])
  await clock.advance(5_000)
  assert.equal(state.calls, ['shutdown: npm start is gone'], 'seen once')
})

Signals('npm start gone after a signal (a closed terminal: SIGTERM, then npm ends) is no second signal: nothing is forced', async () => {
  const { clock, signals, state } = fakeProcess(4242)
  signals.emit('SIGTERM')
  await clock.advance(1_200)
  assert.match(state.lines.join('\n'), 'press Ctrl-C again', 'past the grace')
  state.parent = 1
  await clock.advance(5_000)
  // Before, the watch stayed armed, saw npm gone and took it for a second signal.
  assert.equal(state.calls, ['shutdown: SIGTERM received'])
})

Signals('a second signal after the grace forces; one within it is a copy', async () => {
  const { clock, signals, state } = fakeProcess(undefined)
  signals.emit('SIGINT')
  signals.emit('SIGINT')
  await clock.advance(1_000)
  signals.emit('SIGTERM')
  assert.equal(state.calls, ['shutdown: SIGINT received', 'force: SIGTERM received'])
})

Signals('a settled shutdown ignores later signals', async () => {
  const { clock, signals, state, escalation } = fakeProcess(undefined)
  signals.emit('SIGHUP')
  escalation.settle()
  await clock.advance(5_000)
  signals.emit('SIGTERM')
  assert.equal(state.calls, ['shutdown: SIGHUP received'])
})

Signals.run()
