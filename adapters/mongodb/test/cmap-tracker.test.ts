// The CMAP tracker's bookkeeping, driven by a fake client that emits the driver's events in the order the
// driver does. Here: what it does when one server's pool closes while the client stays open (the server left
// the topology), after which the driver relays none of that pool's events.
import { EventEmitter } from 'node:events'
import { PoolMonitor } from '@lifeguard/core/adapter'
import type { MongoClient } from 'mongodb'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { flushPromises } from '@lifeguard/test-kit'
import { CmapTracker } from '../src/internal/cmap-tracker.js'
import { recordEvents } from './_helpers/pools.js'

const A = '10.0.0.1:27017'
const B = '10.0.0.2:27017'

interface Fixture {
  client: EventEmitter
  tracker: CmapTracker
  recorder: ReturnType<typeof recordEvents>
  hooks: { poolReady: number; connectionLost: number; clientClosed: number }
}

function fixture(): Fixture {
  const client = new EventEmitter()
  // A topology whose internals the tracker cannot read: its waiting count comes from the events alone.
  Object.assign(client, { topology: {} })
  const recorder = recordEvents()
  const monitor = new PoolMonitor({ name: 'tracker-test', kind: 'mongodb', target: 'mongodb://db/test', events: recorder.listeners })
  const hooks = { poolReady: 0, connectionLost: 0, clientClosed: 0 }
  const tracker = new CmapTracker(client as unknown as MongoClient, 'tracker-test', monitor, {
    poolReady: () => void hooks.poolReady++,
    connectionLost: () => void hooks.connectionLost++,
    clientClosed: () => void hooks.clientClosed++,
    closing: () => false,
  })
  return { client, tracker, recorder, hooks }
}

// The events of one connection opened for a checkout and handed to it, as the driver emits them.
function openBusy(client: EventEmitter, address: string, connectionId: number): void {
  client.emit('connectionCheckOutStarted', { address })
  client.emit('connectionCreated', { address, connectionId })
  client.emit('connectionReady', { address, connectionId, durationMS: 1 })
  client.emit('connectionCheckedOut', { address, connectionId, durationMS: 1 })
}

function counts(tracker: CmapTracker): { total: number; open: number; busy: number; waiting: number } {
  return { total: tracker.total, open: tracker.open, busy: tracker.busy, waiting: tracker.waiting }
}

const Removal = suite('CmapTracker: a server leaves the topology')

Removal('its pool closing takes its busy, pending and waiting connections out of the counts, each reported closed', async () => {
  const { client, tracker, recorder, hooks } = fixture()
  for (const address of [A, B]) client.emit('connectionPoolReady', { address })
  openBusy(client, A, 1)
  // A second checkout on A waits for a connection still in its handshake.
  client.emit('connectionCheckOutStarted', { address: A })
  client.emit('connectionCreated', { address: A, connectionId: 2 })
  openBusy(client, B, 1)
  client.emit('connectionCheckedIn', { address: B, connectionId: 1 })
  assert.equal(counts(tracker), { total: 3, open: 2, busy: 1, waiting: 1 })

  // A leaves the topology: the driver closes its pool and stops relaying its events, so neither the
  // checked-out connection's check-in and close nor the handshake's end and the checkout's failure arrive.
  client.emit('connectionPoolClosed', { address: A })
  assert.equal(counts(tracker), { total: 1, open: 1, busy: 0, waiting: 0 }, "only B's idle connection counts")
  // Connection 2 never finished its handshake: it had no `connect`, and gets no `disconnect`.
  assert.equal(recorder.of('disconnect').map((e) => [e.connectionId, e.reason]), [[1, 'closed']])
  await flushPromises()
  assert.is(hooks.connectionLost, 1, 'the keeper is asked to refill on the servers left')

  // A comes back: its new pool numbers connections from 1 again, and they count as new ones.
  client.emit('connectionPoolReady', { address: A })
  openBusy(client, A, 1)
  assert.equal(counts(tracker), { total: 2, open: 2, busy: 1, waiting: 0 })
  client.emit('connectionCheckedIn', { address: A, connectionId: 1 })
  assert.equal(counts(tracker), { total: 2, open: 2, busy: 0, waiting: 0 })
})

Removal('connections pending when the pool was cleared go with the pool too', async () => {
  const { client, tracker, recorder } = fixture()
  client.emit('connectionPoolReady', { address: A })
  client.emit('connectionCheckOutStarted', { address: A })
  client.emit('connectionCreated', { address: A, connectionId: 1 })
  client.emit('connectionPoolCleared', { address: A })
  client.emit('connectionPoolClosed', { address: A })
  assert.equal(counts(tracker), { total: 0, open: 0, busy: 0, waiting: 0 })
  assert.equal(recorder.of('disconnect'), [], 'it never connected')
  // Its late events, were they relayed after all, change nothing.
  client.emit('connectionClosed', { address: A, connectionId: 1, reason: 'poolClosed' })
  assert.equal(counts(tracker), { total: 0, open: 0, busy: 0, waiting: 0 })
})

Removal('the client closing (every pool, then its topology, in one call) asks for no refill', async () => {
  const { client, tracker, hooks } = fixture()
  for (const address of [A, B]) {
    client.emit('connectionPoolReady', { address })
    openBusy(client, address, 1)
  }
  client.emit('connectionPoolClosed', { address: A })
  client.emit('connectionPoolClosed', { address: B })
  client.emit('topologyClosed', {})
  await flushPromises()
  assert.equal(counts(tracker), { total: 0, open: 0, busy: 0, waiting: 0 })
  assert.equal([hooks.connectionLost, hooks.clientClosed], [0, 1])
})

const Handshake = suite('CmapTracker: a connection whose handshake fails')

Handshake('reports the error, with no connect and no disconnect (a failed login is no dropped connection)', () => {
  const { client, tracker, recorder, hooks } = fixture()
  client.emit('connectionPoolReady', { address: A })
  client.emit('connectionCheckOutStarted', { address: A })
  client.emit('connectionCreated', { address: A, connectionId: 1 })
  client.emit('connectionClosed', { address: A, connectionId: 1, reason: 'error', error: new Error('Authentication failed.') })
  client.emit('connectionCheckOutFailed', { address: A, reason: 'connectionError' })
  assert.equal(counts(tracker), { total: 0, open: 0, busy: 0, waiting: 0 })
  assert.equal(recorder.of('connect'), [])
  // Before, each failed handshake sent `disconnect` with reason 'error': a count of connect - disconnect went negative.
  assert.equal(recorder.of('disconnect'), [])
  assert.equal(recorder.of('error').map((e) => [e.source, e.error.message]), [['connection', 'Authentication failed.']])
  assert.is(hooks.connectionLost, 0, 'nothing was taken away from minSize')
  // One that opened and then broke is a drop.
  openBusy(client, A, 2)
  client.emit('connectionClosed', { address: A, connectionId: 2, reason: 'error' })
  assert.equal(recorder.of('disconnect').map((e) => [e.connectionId, e.reason]), [[2, 'error']])
})

const Cause = suite('CmapTracker: the cause a timeout carries')

// The server descriptions the driver emits before a server's pool is ready.
function described(client: EventEmitter, address: string, type: string, error?: Error): void {
  client.emit('serverDescriptionChanged', { address, newDescription: { type, error: error ?? null } })
}

Cause('a secondary down while the primary serves is no cause; once the primary fails too, its failure is', () => {
  const { client, tracker } = fixture()
  described(client, A, 'RSPrimary')
  described(client, B, 'RSSecondary')
  for (const address of [A, B]) client.emit('connectionPoolReady', { address })
  openBusy(client, A, 1)
  // B (a secondary in maintenance) fails every heartbeat; the driver clears its pool and calls it Unknown.
  client.emit('serverHeartbeatFailed', { connectionId: B, failure: new Error(`connect ECONNREFUSED ${B}`) })
  described(client, B, 'Unknown', new Error(`connect ECONNREFUSED ${B}`))
  client.emit('connectionPoolCleared', { address: B })
  client.emit('serverHeartbeatSucceeded', { connectionId: A })
  // Before, every timeout of a busy pool carried B's refusal as its cause.
  assert.is(tracker.lastConnectError, undefined)
  // The primary stops answering too: nothing serves, and the latest failure says why.
  client.emit('serverHeartbeatFailed', { connectionId: A, failure: new Error(`connect ETIMEDOUT ${A}`) })
  assert.match(String(tracker.lastConnectError), `ETIMEDOUT ${A}`)
  // It answers again.
  client.emit('serverHeartbeatSucceeded', { connectionId: A })
  assert.is(tracker.lastConnectError, undefined)
  // A failed handshake is a cause whatever the heartbeats say, until a connection opens.
  client.emit('connectionCreated', { address: A, connectionId: 2 })
  client.emit('connectionClosed', { address: A, connectionId: 2, reason: 'error', error: new Error('Authentication failed.') })
  assert.match(String(tracker.lastConnectError), 'Authentication failed.')
  openBusy(client, A, 3)
  assert.is(tracker.lastConnectError, undefined)
})

Cause('the primary down while the secondaries answer is a cause: operations wait for a primary (unless reads may go to them)', () => {
  const { client, tracker } = fixture()
  described(client, A, 'RSPrimary')
  described(client, B, 'RSSecondary')
  for (const address of [A, B]) client.emit('connectionPoolReady', { address })
  client.emit('serverHeartbeatFailed', { connectionId: A, failure: new Error(`connect ECONNREFUSED ${A}`) })
  described(client, A, 'Unknown', new Error(`connect ECONNREFUSED ${A}`))
  client.emit('connectionPoolCleared', { address: A })
  client.emit('serverHeartbeatSucceeded', { connectionId: B })
  assert.match(String(tracker.lastConnectError), `ECONNREFUSED ${A}`)
  // Reads that may go to a secondary (`secondaryPreferred`) are served meanwhile: a timeout then is a busy pool.
  Object.assign(client, { readPreference: { mode: 'secondaryPreferred' } })
  assert.is(tracker.lastConnectError, undefined)
})

Removal.run()
Cause.run()
Handshake.run()
