import type { Server, Socket } from 'node:net'
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import type { FrameworkDriver } from '../driver.js'
import { Harness } from '../harness.js'
import { delay, waitFor } from '../wait.js'

const REQUESTS = 10_000
const CONNECTIONS = 50

function listeners(emitter: NodeJS.EventEmitter): number {
  return emitter.eventNames().reduce((sum, name) => sum + emitter.listenerCount(name), 0)
}

// Collectability is checked with a real collection: expose gc() at run time.
function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

/** Nothing grows with the number of requests served: listeners, open scopes, retained contexts. */
export function boundsSuite(driver: FrameworkDriver): void {
  const test = suite(`${driver.name}: nothing grows with the number of requests`)
  const harness = new Harness()
  const sockets = new Set<Socket>()
  test.before(async () => {
    await harness.start(driver)
    ;(harness.running.server as Server).on('connection', (socket: Socket) => {
      sockets.add(socket)
      socket.once('close', () => sockets.delete(socket))
    })
  })
  test.after(() => harness.stop())

  const counts = () => ({
    process: listeners(process),
    server: listeners(harness.running.server),
    socketMax: Math.max(0, ...[...sockets].map(listeners)),
  })

  test(`${REQUESTS.toLocaleString('en')} requests leave no listener, scope or context behind`, async () => {
    let sent = 0
    const run = async (until: number): Promise<void> => {
      const worker = async (): Promise<void> => {
        while (sent < until) {
          const n = sent++
          const response = await harness.get(`/bounded/${n}`)
          assert.is(response.status, 200)
          await response.arrayBuffer()
        }
      }
      await Promise.all(Array.from({ length: CONNECTIONS }, worker))
    }
    await run(500)
    await waitFor('the warm-up scopes disposed', () => harness.fixture.container.openScopes === 0)
    const baseline = counts()
    await run(REQUESTS)
    await waitFor('every scope disposed', () => harness.fixture.container.openScopes === 0)
    assert.is(harness.fixture.tracked.created, REQUESTS)
    assert.is(harness.fixture.tracked.disposed, REQUESTS)
    assert.equal(counts(), baseline, 'listener counts grew')
    // The last requests' contexts may be referenced from their keep-alive sockets: close those first.
    harness.running.server.closeAllConnections()
    await waitFor('client connections closed', () => sockets.size === 0)
    const gc = collectGarbage()
    for (let i = 0; i < 3; i++) {
      await delay(10)
      gc()
    }
    const { sample } = harness.fixture.tracked
    assert.ok(sample.length >= REQUESTS / 50)
    assert.is(sample.filter((ref) => ref.deref() !== undefined).length, 0, 'contexts were retained after their requests')
  })

  test.run()
}
