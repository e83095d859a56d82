// Reconnecting a client the driver closed, driven by a fake client: a connect can fail before the driver
// builds a new topology (an SRV lookup, a TLS file read, the auto-encrypter's start), and then no close event
// says so. No server is needed to make that happen here.
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
  const revival = new ClientRevival(client)
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
  const second = revival.ensure()
  assert.ok(second !== undefined, 'the next operation reconnects again')
  await second
  assert.is(connects(), 2)
  assert.is(revival.ensure(), undefined, 'once connected, nothing more to do')
})

Revival('a failed connect that left a connected topology does not reconnect again', async () => {
  const { client, connects, failWith, connected } = fakeClient()
  const revival = new ClientRevival(client)
  connected(true)
  failWith(new Error('auto-encrypter failed after the topology connected'))
  revival.markClosed()
  await revival.ensure()?.catch(() => undefined)
  assert.is(revival.ensure(), undefined)
  assert.is(connects(), 1)
})

Revival('a failed connect after stop() leaves nothing to reconnect', async () => {
  const { client, connects, failWith } = fakeClient()
  const revival = new ClientRevival(client)
  failWith(new Error('ENOTFOUND'))
  revival.markClosed()
  const reconnecting = revival.ensure()
  revival.stop()
  await reconnecting?.catch(() => undefined)
  assert.is(revival.ensure(), undefined)
  assert.is(connects(), 1)
})

Revival.run()
