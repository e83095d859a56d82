import { EventEmitter } from 'node:events'
import { deferred, ManualClock } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { onShutdownSignal, type ShutdownHost, type ShutdownSteps } from '../src/shutdown.js'

// onShutdownSignal on a manual clock, with a stand-in for the process: its signals, its parent, its exit.

/** The process as onShutdownSignal sees it, and what it did. */
function fakeProcess(options: { wrapperPid?: number } = {}) {
  const clock = new ManualClock()
  const signals = new EventEmitter()
  const state = { parent: options.wrapperPid ?? 1, exitCode: undefined as number | undefined, exits: [] as (number | undefined)[], lines: [] as string[] }
  const host: ShutdownHost = {
    signals,
    wrapperPid: options.wrapperPid,
    parentPid: () => state.parent,
    setExitCode: (code) => void (state.exitCode = code),
    exit: (code) => void state.exits.push(code),
    clock,
  }
  const shutdown = deferred()
  const force = deferred()
  const calls = { shutdown: 0, force: 0 }
  const steps: ShutdownSteps = {
    shutdown: () => {
      calls.shutdown += 1
      return shutdown.promise
    },
    force: () => {
      calls.force += 1
      return force.promise
    },
    requestsInFlight: () => 1,
    timeoutMillis: 60_000,
    forceTimeoutMillis: 10_000,
  }
  onShutdownSignal(steps, (line) => void state.lines.push(line), host)
  return { clock, signals, state, calls, shutdown, force }
}

const Wiring = suite('onShutdownSignal')

Wiring('npm start gone, with no shutdown under way, begins one', async () => {
  const { clock, state, calls } = fakeProcess({ wrapperPid: 4242 })
  await clock.advance(2_000)
  assert.is(calls.shutdown, 0, 'the wrapper is still there')
  state.parent = 1
  await clock.advance(500)
  assert.is(calls.shutdown, 1)
  assert.match(state.lines.join('\n'), 'npm start is gone: shutting down')
})

Wiring('npm start gone after a signal (a closed terminal: SIGTERM, then the wrapper ends) is no second signal: nothing is forced', async () => {
  const { clock, signals, state, calls } = fakeProcess({ wrapperPid: 4242 })
  signals.emit('SIGTERM')
  assert.is(calls.shutdown, 1)
  // Past the grace, when a second signal would force the shutdown.
  await clock.advance(1_200)
  state.parent = 1
  await clock.advance(5_000)
  // Before, the watch stayed armed, saw the wrapper gone and took it for a second signal.
  assert.is(calls.force, 0, state.lines.join('\n'))
  assert.not.match(state.lines.join('\n'), 'npm start is gone')
  assert.equal(state.exits, [], 'the graceful shutdown goes on')
})

Wiring('once forced, a graceful shutdown that then ends says nothing, sets no exit code and does not exit', async () => {
  const { clock, signals, state, calls, shutdown, force } = fakeProcess()
  signals.emit('SIGTERM')
  assert.is(state.exitCode, 1, 'until the shutdown says it finished')
  await clock.advance(1_000)
  signals.emit('SIGTERM')
  assert.is(calls.force, 1)
  // The forced stop ended the request holding the drain: the graceful shutdown finishes while the forced one runs.
  shutdown.resolve()
  await clock.advance(5_000)
  // Before: 'stopped cleanly' after the forced line, exit code 0, and an exit two seconds later.
  assert.is(state.lines.at(-1), 'SIGTERM received while shutting down: shutdown forced, cutting off 1 request(s) in flight; exiting 1')
  assert.is(state.exitCode, 1)
  assert.equal(state.exits, [], 'the forced stop owns the exit')
  force.resolve()
  await clock.advance(0)
  assert.equal(state.exits, [1])
})

Wiring('once forced, a graceful shutdown that then fails says nothing and does not exit', async () => {
  const { clock, signals, state, shutdown, force } = fakeProcess()
  signals.emit('SIGINT')
  await clock.advance(1_000)
  signals.emit('SIGINT')
  shutdown.reject(new Error('PostgreSQL had ended before it was stopped (exit code 1)'))
  await clock.advance(0)
  // Before: 'shutdown failed: ...' after the forced line, and an exit under the forced stop still removing a folder.
  assert.not.match(state.lines.join('\n'), 'shutdown failed')
  assert.equal(state.exits, [])
  force.resolve()
  await clock.advance(0)
  assert.equal(state.exits, [1])
})

Wiring('forced just before the graceful deadline, the process exits once the forced stop has ended, not at the deadline', async () => {
  const { clock, signals, state, force } = fakeProcess()
  signals.emit('SIGTERM')
  await clock.advance(60_000 - 100)
  signals.emit('SIGTERM')
  // A forced stop of a server that ignores its immediate shutdown: 5 s of SIGQUIT, SIGKILL, then the folder.
  await clock.advance(100)
  // Before: exit 1 here, at the graceful deadline, with the server stopped and its folder still there.
  assert.equal(state.exits, [], 'the forced stop still runs')
  await clock.advance(900)
  force.resolve()
  await clock.advance(0)
  assert.equal(state.exits, [1])
  assert.match(state.lines.at(-1) ?? '', 'shutdown forced', 'no deadline line')
  await clock.advance(60_000)
  assert.equal(state.exits, [1], 'one exit')
})

Wiring('a graceful shutdown past its deadline is forced (an embedded database must not outlive the process), once, and a later signal adds nothing', async () => {
  const { clock, signals, state, calls, force } = fakeProcess()
  signals.emit('SIGTERM')
  await clock.advance(60_000 - 1)
  assert.is(calls.force, 0)
  await clock.advance(1)
  // Before: exit 1 at once, the embedded database left running with its folder.
  assert.is(calls.force, 1)
  assert.equal(state.exits, [], 'the forced stop runs first')
  assert.is(state.lines.at(-1), 'shutdown did not finish within 60000ms: stopping at once, cutting off 1 request(s) in flight; exiting 1')
  signals.emit('SIGTERM')
  assert.is(calls.force, 1, 'forced once')
  force.resolve()
  await clock.advance(0)
  assert.equal(state.exits, [1])
})

Wiring('once forced, the forced stop has a bound of its own: a stop that never ends exits 1 after forceTimeoutMillis, saying so', async () => {
  const { clock, signals, state } = fakeProcess()
  signals.emit('SIGTERM')
  await clock.advance(1_000)
  signals.emit('SIGTERM')
  await clock.advance(10_000 - 1)
  assert.equal(state.exits, [])
  await clock.advance(1)
  assert.equal(state.exits, [1])
  assert.is(state.lines.at(-1), 'forced shutdown did not finish within 10000ms: exiting anyway')
  await clock.advance(60_000)
  assert.equal(state.exits, [1], 'the graceful deadline was cleared')
})

Wiring('a graceful shutdown that ends unforced still says so and exits 0', async () => {
  const { clock, signals, state, shutdown } = fakeProcess()
  signals.emit('SIGHUP')
  shutdown.resolve()
  await clock.advance(0)
  assert.is(state.lines.at(-1), 'stopped cleanly')
  assert.is(state.exitCode, 0)
  await clock.advance(2_000)
  assert.equal(state.exits, [undefined], 'not held by what is left')
})

Wiring.run()
