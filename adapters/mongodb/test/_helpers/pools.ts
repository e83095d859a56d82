// Pools for the adapter tests: test-friendly driver settings, a unique name (and so appName) per pool, and
// an event recorder.
import type { PoolEventListeners, PoolEventMap, PoolEventName } from '@lifeguard/core'
import type { Test } from 'uvu'
import { createMongoPool, type MongoPool, type MongoPoolOptions } from '../../src/index.js'
import { REAL, type TestTarget } from './target.js'

let counter = 0

/** Options of `openPool`: any pool option, plus `faults` for tests that inject one failure and expect one. */
export type TestPoolOptions = Partial<MongoPoolOptions> & { faults?: boolean }

/**
 * A pool on the target with heartbeats every 500ms, a 2s server selection timeout, a unique name (which is
 * also its appName) and, with `faults`, no retries (one injected fault, one failure).
 */
export function openPool(target: TestTarget, options: TestPoolOptions = {}): MongoPool {
  const { faults, clientOptions, ...rest } = options
  return createMongoPool({
    name: `test-${process.pid}-${++counter}`,
    uri: target.uri,
    ...rest,
    clientOptions: {
      heartbeatFrequencyMS: 500,
      serverSelectionTimeoutMS: 2000,
      // One monitor connection per client, so the real-server count can leave it out.
      ...(REAL ? { serverMonitoringMode: 'poll' as const } : {}),
      ...(faults ? { retryReads: false, retryWrites: false } : {}),
      ...clientOptions,
    },
  })
}

/**
 * Closes every pool and checks that the server is left with no connection of theirs, heartbeat monitors
 * included: what each test file does after each test.
 */
export async function closeAll(target: TestTarget, pools: MongoPool[]): Promise<void> {
  const closing = pools.splice(0)
  await Promise.all(closing.map((pool) => pool.close()))
  for (const pool of closing) await target.waitForNoConnections(appNameOf(pool))
}

/** The appName a test pool shows the server. */
export function appNameOf(pool: MongoPool): string {
  return pool.name
}

/** One recorded event. */
export type Recorded = { [E in PoolEventName]: { event: E; payload: PoolEventMap[E] } }[PoolEventName]

/** Listeners that record every event in order, for the `events` option. */
export function recordEvents(): { listeners: PoolEventListeners; events: Recorded[]; of<E extends PoolEventName>(event: E): PoolEventMap[E][] } {
  const events: Recorded[] = []
  const push = <E extends PoolEventName>(event: E) => (payload: PoolEventMap[E]) => {
    events.push({ event, payload } as Recorded)
  }
  return {
    events,
    of: <E extends PoolEventName>(event: E) => events.filter((e) => e.event === event).map((e) => e.payload as PoolEventMap[E]),
    listeners: {
      onConnect: push('connect'),
      onDisconnect: push('disconnect'),
      onError: push('error'),
      onPoolCreated: push('poolCreated'),
      onAcquire: push('acquire'),
      onRelease: push('release'),
      onResize: push('resize'),
      onLeak: push('leak'),
      onTimeout: push('timeout'),
      onQuery: push('query'),
    },
  }
}

/** The suite itself, or its `skip` against a real server: for tests that need the wire server's fault hooks. */
export function faultTest<T>(test: Test<T>): Test<T> | Test<T>['skip'] {
  return REAL ? test.skip : test
}

/** Resolves after `millis`. */
export function sleep(millis: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, millis))
}
