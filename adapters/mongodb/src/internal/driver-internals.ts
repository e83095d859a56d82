import type { MongoClient } from 'mongodb'

// What the adapter reads of the `mongodb` driver's internals (as of 7.9), kept here so an upgrade has one place
// to check; `test/driver-internals.test.ts` pins these shapes to the installed driver. Every reader checks the
// shape it finds and says so (`undefined`) when it does not match, so its caller can fall back to public data.

type Shape = Record<string, unknown>

function isObject(value: unknown): value is Shape {
  return typeof value === 'object' && value !== null
}

function isIterable(value: unknown): value is Iterable<unknown> {
  return isObject(value) && typeof (value as { [Symbol.iterator]?: unknown })[Symbol.iterator] === 'function'
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0
}

/**
 * Checkouts waiting inside the driver, counted from its pools: per server in `client.topology.s.servers` (a
 * `Map`), the members of `pool.waitQueue` (a `List`) not `cancelled`, plus `pool.pendingConnectionCount` (each
 * pending connection was started for a checkout, since the adapter sets `minPoolSize: 0`). An upper bound: a
 * checkout aborted while its connection is being opened stays counted until that connection is ready.
 *
 * @returns `0` before the client connected or after it closed, `undefined` when a field is not of the shape read
 */
export function checkoutsInDriver(client: MongoClient): number | undefined {
  const topology = (client as unknown as { topology?: unknown }).topology
  if (topology === undefined || topology === null) return 0
  const servers = isObject(topology) && isObject(topology['s']) ? topology['s']['servers'] : undefined
  if (!(servers instanceof Map)) return undefined
  let count = 0
  for (const server of servers.values()) {
    const pool: unknown = isObject(server) ? server['pool'] : undefined
    if (!isObject(pool)) return undefined
    const pending = pool['pendingConnectionCount']
    const queue = pool['waitQueue']
    if (!isCount(pending) || !isIterable(queue)) return undefined
    for (const member of queue) {
      const cancelled: unknown = isObject(member) ? member['cancelled'] : undefined
      if (typeof cancelled !== 'boolean') return undefined
      if (!cancelled) count++
    }
    count += pending
  }
  return count
}

/**
 * Whether the client's topology is connected (`client.topology.isConnected()`): `false` without a topology or
 * when the driver no longer has that method.
 */
export function topologyConnected(client: MongoClient): boolean {
  const topology = (client as unknown as { topology?: { isConnected?: unknown } }).topology
  if (!isObject(topology) || typeof topology.isConnected !== 'function') return false
  return (topology as { isConnected(): unknown }).isConnected() === true
}

/**
 * The connect under way (`client.connectionLock`, set from `connect()`'s first step until it settles), if any:
 * the driver's own auto-connect from an operation, or a `client.connect()`.
 */
export function connectInFlight(client: MongoClient): Promise<unknown> | undefined {
  const lock = (client as unknown as { connectionLock?: unknown }).connectionLock
  return lock instanceof Promise ? lock : undefined
}
