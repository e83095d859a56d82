import { EventEmitter } from 'node:events'
import { deferred, rejects } from '@lifeguard/test-kit'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { createEmbeddedStops, type EmbeddedStops, type ServerProcess } from '../src/embedded-stops.js'

// The stops of one embedded server with stand-ins for the postmaster, initdb and the folder's removal, on short
// bounds: what happens in which order. embedded-postgres.at-once.test.ts runs the real binaries.

const dataDir = '/tmp/lifeguard-orders-pg-stand-in'
const stopTimeoutMillis = 40
const killTimeoutMillis = 20

/** A postmaster that ends on the signals it is told to answer, and ignores the others (SIGINT: a stuck fast shutdown). */
class FakeServer extends EventEmitter implements ServerProcess {
  exitCode: number | null = null
  signalCode: NodeJS.Signals | null = null
  constructor(
    readonly events: string[],
    readonly answers: readonly NodeJS.Signals[],
  ) {
    super()
  }
  get running(): boolean {
    return this.exitCode === null && this.signalCode === null
  }
  kill(signal: NodeJS.Signals): boolean {
    this.events.push(signal)
    if (this.answers.includes(signal)) {
      setTimeout(() => {
        if (signal === 'SIGKILL') this.signalCode = signal
        else this.exitCode = 0
        this.events.push('server ended')
        this.emit('exit', this.exitCode, this.signalCode)
      }, 5)
    }
    return true
  }
}

interface Setup {
  server?: FakeServer
  initialising?: Promise<void>
  killInitdb?: () => Promise<boolean>
  /** Rejects (as ENOTEMPTY) while this says the folder is still being written into. */
  writing?: () => boolean
}

function stopsOf(events: string[], setup: Setup): { stops: EmbeddedStops; stopped: () => number } {
  let stopped = 0
  const stops = createEmbeddedStops({
    dataDir,
    serverProcess: () => setup.server,
    initialising: () => setup.initialising,
    // Ignores SIGINT: never ends by itself.
    stopServer: () => new Promise<void>(() => setup.server?.kill('SIGINT')),
    killInitdb: setup.killInitdb ?? (async () => false),
    removeFolder: async () => {
      const writing = setup.writing?.() ?? false
      events.push(writing ? 'removal while written into' : 'removal')
      await new Promise((resolve) => setTimeout(resolve, 2))
      if (writing) throw Object.assign(new Error(`ENOTEMPTY: directory not empty, rmdir '${dataDir}/base'`), { code: 'ENOTEMPTY' })
    },
    onStopped: () => void (stopped += 1),
    stopTimeoutMillis,
    killTimeoutMillis,
  })
  return { stops, stopped: () => stopped }
}

const Stops = suite('createEmbeddedStops')

Stops('a graceful stop the server does not answer in time stops it at once, then removes the folder: nothing outlives it', async () => {
  const events: string[] = []
  const server = new FakeServer(events, ['SIGQUIT'])
  const { stops, stopped } = stopsOf(events, { server, writing: () => server.running })
  const error = await rejects(stops.stop(), Error)
  assert.is(error.message, `PostgreSQL did not stop within ${stopTimeoutMillis}ms: it was stopped at once (immediate shutdown)`)
  // Before: the folder was removed under the running server (which failed), and the server was left running
  // for a second signal's forced stop to kill; without one, it outlived the process.
  assert.equal(events, ['SIGINT', 'SIGQUIT', 'server ended', 'removal'])
  assert.is(stopped(), 1)
  await stops.stopAtOnce()
  assert.equal(events, ['SIGINT', 'SIGQUIT', 'server ended', 'removal'], 'a forced stop afterwards has nothing left to do')
})

Stops('a server that answers neither the fast nor the immediate shutdown is killed before its folder goes', async () => {
  const events: string[] = []
  const server = new FakeServer(events, ['SIGKILL'])
  const { stops, stopped } = stopsOf(events, { server, writing: () => server.running })
  await rejects(stops.stop(), Error)
  assert.equal(events, ['SIGINT', 'SIGQUIT', 'SIGKILL', 'server ended', 'removal'])
  assert.is(stopped(), 1)
})

Stops('a graceful stop asked during a forced stop waits for it and removes nothing itself', async () => {
  const events: string[] = []
  const server = new FakeServer(events, ['SIGQUIT'])
  const { stops, stopped } = stopsOf(events, { server, writing: () => server.running })
  const atOnce = stops.stopAtOnce()
  await stops.stop()
  await atOnce
  assert.equal(events, ['SIGQUIT', 'server ended', 'removal'])
  assert.is(stopped(), 1)
})

Stops('initdb that outlasts its time is killed, and the folder is removed only once it has ended', async () => {
  const events: string[] = []
  const initdb = deferred()
  let killedAt = 0
  const began = performance.now()
  const { stops } = stopsOf(events, {
    initialising: initdb.promise,
    killInitdb: async () => {
      killedAt = performance.now() - began
      events.push('initdb killed')
      // Its backends end on the closed pipe, then its output closes: embedded-postgres's initialise() fails.
      setTimeout(() => {
        events.push('initdb ended')
        initdb.reject(new Error('Postgres init script failed (code: null, signal: SIGKILL).'))
      }, 5)
      return true
    },
  })
  await stops.stopAtOnce()
  assert.ok(killedAt >= stopTimeoutMillis - 2, `killed after its time, not before (${Math.round(killedAt)}ms)`)
  // Before: the folder was removed after the bound while initdb still wrote into it, and initdb ran on.
  assert.equal(events, ['initdb killed', 'initdb ended', 'removal'])
})

Stops('initdb that cannot be found to kill leaves the folder, and the error names it', async () => {
  const events: string[] = []
  const { stops, stopped } = stopsOf(events, { initialising: new Promise<void>(() => undefined) })
  const error = await rejects(stops.stopAtOnce(), Error)
  assert.is(error.message, `Could not remove '${dataDir}'. initdb was still writing into it after ${stopTimeoutMillis}ms and could not be found to kill: the folder is left behind, and embedded-postgres's password file (pg-password-*) beside it may be too`)
  assert.equal(events, [], 'no removal under initdb')
  assert.is(stopped(), 1, 'nothing more to do')
})

Stops('initdb killed that does not end within its reaping time leaves the folder as well', async () => {
  const events: string[] = []
  const { stops } = stopsOf(events, { initialising: new Promise<void>(() => undefined), killInitdb: async () => true })
  const error = await rejects(stops.stopAtOnce(), Error)
  assert.match(error.message, `did not end within ${killTimeoutMillis}ms of SIGKILL: the folder is left behind`)
  assert.equal(events, [])
})

Stops('initdb that ends in its time is not killed: the folder goes once it has ended', async () => {
  const events: string[] = []
  const initdb = deferred()
  const { stops } = stopsOf(events, {
    initialising: initdb.promise,
    killInitdb: async () => {
      events.push('initdb killed')
      return true
    },
  })
  setTimeout(() => {
    events.push('initdb ended')
    initdb.resolve()
  }, 5)
  await stops.stopAtOnce()
  assert.equal(events, ['initdb ended', 'removal'])
  assert.ok(stops.stoppingAtOnce)
})

Stops.run()
