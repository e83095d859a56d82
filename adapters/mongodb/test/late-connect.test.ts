// Closing the topology a connect builds after the client closed, driven by a fake client whose connect is
// under way (as the driver's is while it awaits an SRV lookup or a TLS file read).
import type { MongoClient } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { flushPromises } from '@lifeguard/test-kit'
import { closeLateTopology } from '../src/internal/late-connect.js'

// A client with a connect under way (or none) that the test settles, counting its closes.
function fakeClient(connecting: boolean): { client: MongoClient; closes: () => number; settle: (error?: Error) => void } {
  let closes = 0
  let settle: (error?: Error) => void = () => undefined
  const connectionLock = connecting
    ? new Promise<void>((resolve, reject) => {
        settle = (error) => (error === undefined ? resolve() : reject(error))
      })
    : undefined
  const fake = {
    connectionLock,
    close: async () => {
      closes++
    },
  }
  return { client: fake as unknown as MongoClient, closes: () => closes, settle: (error) => settle(error) }
}

const Late = suite('closeLateTopology')

Late('no connect under way: nothing to wait for', () => {
  assert.is(closeLateTopology(fakeClient(false).client), undefined)
})

Late('a connect that succeeds after the close has its topology closed once it is built', async () => {
  const { client, closes, settle } = fakeClient(true)
  const late = closeLateTopology(client)
  assert.ok(late !== undefined)
  await flushPromises()
  assert.is(closes(), 0, 'nothing to close before the topology is built')
  settle()
  await late
  assert.is(closes(), 1)
})

Late('a connect that fails closed what it built itself: nothing more, and no rejection', async () => {
  const { client, closes, settle } = fakeClient(true)
  const late = closeLateTopology(client)
  settle(new Error('querySrv ENOTFOUND'))
  await late
  assert.is(closes(), 0)
})

Late.run()
