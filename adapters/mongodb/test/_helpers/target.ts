// Where the adapter tests run: the wire-protocol test server (default, CI), or a real mongod when
// MONGODB_URI is set. The same test files run against both; tests that need the server's fault hooks
// are skipped against a real server (see `faultTest`).
import { MongoClient, type Document } from 'mongodb'
import { startWireServer, type WireServer } from '@lifeguard/test-kit'

/** The real server's URI, when the suite runs against one. */
export const REAL_URI: string | undefined = process.env['MONGODB_URI'] || undefined

/** True when the suite runs against a real mongod. */
export const REAL = REAL_URI !== undefined

/** The server under test. */
export interface TestTarget {
  readonly uri: string
  readonly real: boolean
  /** Whether the server runs transactions (the wire server does; a real one only as a replica set or mongos). */
  readonly transactions: boolean
  /** The wire server, for fault hooks and its command log; `undefined` against a real server. */
  readonly wire: WireServer | undefined
  /** Every connection the server has open for `appName`, heartbeat monitors included. */
  connections(appName: string): Promise<number>
  /** Waits until the server has no connection left for `appName`. */
  waitForNoConnections(appName: string, timeoutMillis?: number): Promise<void>
  /** Pool connections the server has open for `appName` (heartbeat monitors excluded). */
  poolConnections(appName: string): Promise<number>
  /** Waits until `poolConnections(appName)` satisfies `expected`; returns the last count. */
  waitForPoolConnections(appName: string, expected: number | ((count: number) => boolean), timeoutMillis?: number): Promise<number>
  /** Waits until the heartbeat monitor of `appName` is told apart from its pool connections (wire server only). */
  waitForMonitor(appName: string, timeoutMillis?: number): Promise<void>
  /** Documents of `db.collection`, read outside any pool under test. */
  documents(namespace: string): Promise<Document[]>
  /** Drops the test databases (on a real server) and stops the wire server. */
  close(): Promise<void>
}

/**
 * Starts a wire server, or connects to `MONGODB_URI`. On a real server the test file's `databases` are
 * dropped now (left over from an interrupted run) and again at `close()`.
 */
export async function startTarget(databases: readonly string[]): Promise<TestTarget> {
  return REAL_URI === undefined ? wireTarget(await startWireServer()) : realTarget(REAL_URI, databases)
}

function appNameOf(handshake: Document | undefined): unknown {
  return handshake?.['client']?.application?.name
}

function wireTarget(server: WireServer): TestTarget {
  const ofApp = (appName: string) => server.connections.filter((c) => appNameOf(c.handshake) === appName)
  const target: TestTarget = {
    uri: server.uri,
    real: false,
    transactions: true,
    wire: server,
    // A connection that only did its handshake counts as a pool connection: that is what an idle pool
    // connection looks like. The monitor is told apart after its first heartbeat (see waitForMonitor).
    connections: async (appName) => ofApp(appName).length,
    waitForNoConnections: async (appName, timeoutMillis = 3000) => {
      await waitForCount(() => target.connections(appName), 0, timeoutMillis, appName)
    },
    poolConnections: async (appName) => ofApp(appName).filter((c) => c.kind !== 'monitor').length,
    waitForPoolConnections: (appName, expected, timeoutMillis = 3000) => waitForCount(() => target.poolConnections(appName), expected, timeoutMillis, appName),
    waitForMonitor: (appName, timeoutMillis = 3000) =>
      server.waitFor(() => ofApp(appName).some((c) => c.kind === 'monitor'), timeoutMillis, `the heartbeat monitor of ${appName}`),
    documents: async (namespace) => server.documents(namespace),
    close: () => server.close(),
  }
  return target
}

async function realTarget(uri: string, databases: readonly string[]): Promise<TestTarget> {
  const admin = new MongoClient(uri, { appName: 'lifeguard-test-observer', maxPoolSize: 2 })
  await admin.connect()
  const hello = await admin.db('admin').command({ hello: 1 })
  for (const db of databases) await admin.db(db).dropDatabase()
  const connectionsOf = async (appName: string) => {
    const ops = await admin
      .db('admin')
      .aggregate([{ $currentOp: { allUsers: true, idleConnections: true } }, { $match: { appName } }])
      .toArray()
    return ops.length
  }
  const target: TestTarget = {
    uri,
    real: true,
    transactions: hello['setName'] !== undefined || hello['msg'] === 'isdbgrid',
    wire: undefined,
    // Test pools poll (serverMonitoringMode 'poll'), so each open client has exactly one monitor connection.
    connections: connectionsOf,
    waitForNoConnections: async (appName, timeoutMillis = 5000) => {
      await waitForCount(() => connectionsOf(appName), 0, timeoutMillis, appName)
    },
    poolConnections: async (appName) => Math.max(0, (await connectionsOf(appName)) - 1),
    waitForPoolConnections: (appName, expected, timeoutMillis = 5000) => waitForCount(() => target.poolConnections(appName), expected, timeoutMillis, appName),
    waitForMonitor: async () => undefined,
    documents: async (namespace) => {
      const [db, ...rest] = namespace.split('.')
      return admin.db(db).collection(rest.join('.')).find({}).toArray()
    },
    close: async () => {
      for (const db of databases) await admin.db(db).dropDatabase()
      await admin.close()
    },
  }
  return target
}

async function waitForCount(read: () => Promise<number>, expected: number | ((count: number) => boolean), timeoutMillis: number, appName: string): Promise<number> {
  const ok = typeof expected === 'number' ? (count: number) => count === expected : expected
  const deadline = Date.now() + timeoutMillis
  let count = await read()
  while (!ok(count)) {
    if (Date.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMillis}ms waiting for the connections of ${appName} (last count ${count}${typeof expected === 'number' ? `, expected ${expected}` : ''})`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
    count = await read()
  }
  return count
}
