// Reconnecting a client the driver closed, driven by a fake client: a connect can fail before the driver
// builds a new topology (an SRV lookup, a TLS file read, the auto-encrypter's start), and then no close event
// says so. No server is needed to make that happen here.
import { ManualClock } from '@lifeguard/test-kit'
import type { MongoClient } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { ClientRevival } from '../src/internal/client-revival.js'

// A client whose connect fails (or not) without emitting anything, with a topology connected or not.
function fakeClient(): { client: MongoClient; connects: () => number; failWith: (error: Error | undefined) => void; connected: (value: boolean) => void } {
  let connects = 0
  let failure: Error | undefined
  let connected = false
  const fake = {
    topology: { isConnected: () => connected },
    connect: async () => {
      connects++
      if (failure !== undefined) throw failure
      connected = true
      return fake
    },
  }
  return {
    client: fake as unknown as MongoClient,
    connects: () => connects,
    failWith: (error) => {
      failure = error
    },
    connected: (value) => {
      connected = value
    },
  }
}

const Revival = suite('ClientRevival')

Revival('a reconnect that fails before the driver builds a topology is tried again by the next ensure()', async () => {
  const { client, connects, failWith } = fakeClient()
  const clock = new ManualClock()
  const revival = new ClientRevival(client, clock)
  failWith(new Error('querySrv ENOTFOUND _mongodb._tcp.db.example.com'))
  revival.markClosed()
  const first = revival.ensure()
  assert.ok(first !== undefined, 'a reconnect starts')
  try {
    await first
    assert.unreachable('the reconnect should fail')
  } catch (error) {
    assert.match((error as Error).message, 'ENOTFOUND')
  }
  // Before the fix: undefined, so every later operation met the old closed topology, also once DNS answered.
  failWith(undefined)
  await clock.advance(25)
  const second = revival.ensure()
  assert.ok(second !== undefined, 'the next operation reconnects again')
  await second
  assert.is(connects(), 2)
  assert.is(revival.ensure(), undefined, 'once connected, nothing more to do')
})

Revival('a failed connect that left a connected topology does not reconnect again', async () => {
  const { client, connects, failWith, connected } = fakeClient()
  const revival = new ClientRevival(client, new ManualClock())
  connected(true)
  failWith(new Error('auto-encrypter failed after the topology connected'))
  revival.markClosed()
  await revival.ensure()?.catch(() => undefined)
  assert.is(revival.ensure(), undefined)
  assert.is(connects(), 1)
})

Revival('a failed connect after stop() leaves nothing to reconnect', async () => {
  const { client, connects, failWith } = fakeClient()
  const revival = new ClientRevival(client, new ManualClock())
  failWith(new Error('ENOTFOUND'))
  revival.markClosed()
  const reconnecting = revival.ensure()
  revival.stop()
  await reconnecting?.catch(() => undefined)
  assert.is(revival.ensure(), undefined)
  assert.is(connects(), 1)
})

Revival('after a failed reconnect, operations within the backoff get its failure without connecting again; the backoff doubles to 500 ms and resets once connected', async () => {
  const { client, connects, failWith, connected } = fakeClient()
  const clock = new ManualClock()
  const revival = new ClientRevival(client, clock)
  const failure = new Error('querySrv ENOTFOUND _mongodb._tcp.db.example.com')
  failWith(failure)
  revival.markClosed()
  await revival.ensure()?.catch(() => undefined)
  // Before: every operation ran a connect (an SRV lookup) of its own.
  for (let i = 0; i < 3; i++) {
    const again = revival.ensure()
    assert.ok(again !== undefined)
    await again.then(
      () => assert.unreachable('still failing'),
      (error: unknown) => assert.is(error, failure),
    )
  }
  assert.is(connects(), 1)
  const waits: number[] = []
  for (let attempt = 0; attempt < 6; attempt++) {
    let waited = 0
    while (connects() === attempt + 1) {
      await clock.advance(5)
      waited += 5
      await revival.ensure()?.catch(() => undefined)
    }
    waits.push(waited)
  }
  assert.equal(waits, [25, 50, 100, 200, 400, 500])
  failWith(undefined)
  await clock.advance(500)
  await revival.ensure()
  assert.is(revival.ensure(), undefined, 'connected')
  // A later failure (the driver closed the topology again) starts from the first backoff again.
  failWith(failure)
  connected(false)
  revival.markClosed()
  await revival.ensure()?.catch(() => undefined)
  const before = connects()
  await clock.advance(25)
  await revival.ensure()?.catch(() => undefined)
  assert.is(connects(), before + 1)
})

Revival('an attempt that took as long as its backoff (a server selection that timed out) is followed at once', async () => {
  const clock = new ManualClock()
  let attempts = 0
  let fail!: (error: Error) => void
  const client = { topology: { isConnected: () => false }, connect: () => new Promise((_, reject) => ((attempts += 1), (fail = reject))) }
  const revival = new ClientRevival(client as unknown as MongoClient, clock)
  revival.markClosed()
  const first = revival.ensure()!.catch(() => undefined)
  await clock.advance(30_000)
  fail(new Error('Server selection timed out after 30000 ms'))
  await first
  // The next operation starts a new attempt: its backoff ran while the last one waited.
  void revival.ensure()!.catch(() => undefined)
  assert.is(attempts, 2)
  fail(new Error('again'))
})

Revival.run()
