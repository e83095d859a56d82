// Command handlers of the wire test server: the replies a 7.x driver needs for CRUD, sessions and transactions.
import { Long, type Document } from 'bson'
import { applyUpdate, CommandError, matches, sameValue, sortDocuments, WireStore, type UndoLog } from './wire-store.js'

/** What a handler sees besides the command document. */
export interface CommandContext {
  readonly db: string
  readonly connectionId: number
  readonly store: WireStore
}

/** Returns the reply document (without `ok` it is treated as `ok: 1`); throw `CommandError` to fail. */
export type CommandHandler = (command: Document, context: CommandContext) => Document | Promise<Document>

/** Wire version of MongoDB 7.0: inside the 7.9 driver's supported range [9, 29]. */
export const MAX_WIRE_VERSION = 21

/**
 * The hello reply. Deliberately without `topologyVersion` (the monitor would switch to streaming hello on an
 * extra connection), `setName`, `msg: 'isdbgrid'` and `compression`: the driver sees a plain standalone.
 */
export function helloReply(connectionId: number): Document {
  return {
    helloOk: true,
    ismaster: true,
    isWritablePrimary: true,
    maxBsonObjectSize: 16 * 1024 * 1024,
    maxMessageSizeBytes: 48_000_000,
    maxWriteBatchSize: 100_000,
    localTime: new Date(),
    logicalSessionTimeoutMinutes: 30,
    connectionId,
    minWireVersion: 0,
    maxWireVersion: MAX_WIRE_VERSION,
    readOnly: false,
    ok: 1,
  }
}

const sessionKey = (lsid: unknown) => JSON.stringify(lsid)

function cursorReply(namespace: string, batch: Document[], field: 'firstBatch' | 'nextBatch'): Document {
  // The driver reads the cursor id strictly as int64, and id 0 means "exhausted": no getMore follows.
  return { cursor: { id: Long.ZERO, ns: namespace, [field]: batch } }
}

function window(docs: Document[], skip: unknown, limit: unknown): Document[] {
  const from = typeof skip === 'number' ? skip : 0
  const count = typeof limit === 'number' && limit !== 0 ? Math.abs(limit) : undefined
  return docs.slice(from, count === undefined ? undefined : from + count)
}

/**
 * Creates the built-in handlers, sharing one store.
 *
 * Transactions: writes apply at once and are visible to everyone (no isolation, no write conflicts); each
 * write inside a transaction records an undo entry, so `abortTransaction` (or `endSessions` on an open
 * transaction) rolls it back and `commitTransaction` just forgets the log. Enough to test that the driver
 * and the adapter send the right commands; not a test of MongoDB's transaction semantics.
 */
export function createCommandHandlers(): Record<string, CommandHandler> {
  const transactions = new Map<string, UndoLog>()

  // The undo log of the open transaction of this command's session, or undefined outside transactions.
  function undoLog(command: Document): UndoLog | undefined {
    if (command['autocommit'] !== false) return undefined
    const key = sessionKey(command['lsid'])
    if (command['startTransaction'] === true) transactions.set(key, [])
    return transactions.get(key)
  }

  function endTransaction(command: Document, context: CommandContext, commit: boolean): Document {
    const key = sessionKey(command['lsid'])
    const log = transactions.get(key)
    transactions.delete(key)
    if (log !== undefined && !commit) context.store.undo(log)
    return {}
  }

  function writeResult(n: number, error: unknown, index: number, extra: Document = {}): Document {
    if (error === undefined) return { n, ...extra }
    if (!(error instanceof CommandError) || error.code !== 11000) throw error
    return { n, ...extra, writeErrors: [{ index, code: error.code, errmsg: error.message }] }
  }

  const handlers: Record<string, CommandHandler> = {
    ping: () => ({}),
    buildInfo: () => ({ version: '7.0.0', versionArray: [7, 0, 0, 0], maxBsonObjectSize: 16 * 1024 * 1024 }),
    endSessions: (command, context) => {
      for (const lsid of (command['endSessions'] as Document[]) ?? []) {
        endTransaction({ lsid }, context, false)
      }
      return {}
    },
    commitTransaction: (command, context) => endTransaction(command, context, true),
    abortTransaction: (command, context) => endTransaction(command, context, false),

    insert: (command, { db, store }) => {
      const namespace = `${db}.${command['insert']}`
      const undo = undoLog(command)
      const documents = (command['documents'] as Document[]) ?? []
      let n = 0
      for (const [index, doc] of documents.entries()) {
        try {
          store.insert(namespace, doc, undo)
          n += 1
        } catch (error) {
          return writeResult(n, error, index)
        }
      }
      return { n }
    },

    update: (command, { db, store }) => {
      const namespace = `${db}.${command['update']}`
      const undo = undoLog(command)
      let n = 0
      let nModified = 0
      const upserted: Document[] = []
      for (const [index, spec] of ((command['updates'] as Document[]) ?? []).entries()) {
        try {
          const found = store.find(namespace, spec['q'])
          const targets = spec['multi'] === true ? found : found.slice(0, 1)
          for (const doc of targets) {
            const next = applyUpdate(doc, spec['u'], false)
            n += 1
            if (!sameValue(next, doc)) nModified += 1
            store.replace(namespace, doc, next, undo)
          }
          if (targets.length === 0 && spec['upsert'] === true) {
            const seed = Object.fromEntries(
              Object.entries((spec['q'] as Document) ?? {}).filter(([k, v]) => !k.startsWith('$') && !isOperators(v)),
            )
            const inserted = store.insert(namespace, applyUpdate(seed, spec['u'], true), undo)
            n += 1
            upserted.push({ index, _id: inserted['_id'] })
          }
        } catch (error) {
          return writeResult(n, error, index, { nModified })
        }
      }
      return upserted.length > 0 ? { n, nModified, upserted } : { n, nModified }
    },

    delete: (command, { db, store }) => {
      const namespace = `${db}.${command['delete']}`
      const undo = undoLog(command)
      let n = 0
      for (const spec of (command['deletes'] as Document[]) ?? []) {
        const found = store.find(namespace, spec['q'])
        for (const doc of spec['limit'] === 1 ? found.slice(0, 1) : found) {
          store.replace(namespace, doc, undefined, undo)
          n += 1
        }
      }
      return { n }
    },

    find: (command, { db, store }) => {
      if (command['projection'] !== undefined) {
        throw new CommandError(2, 'BadValue', 'projection is not supported by the wire test server')
      }
      const namespace = `${db}.${command['find']}`
      const docs = sortDocuments(store.find(namespace, command['filter']), command['sort'])
      return cursorReply(namespace, window(docs, command['skip'], command['limit']), 'firstBatch')
    },
    getMore: (command, { db }) => cursorReply(`${db}.${command['collection']}`, [], 'nextBatch'),
    killCursors: (command) => ({ cursorsKilled: command['cursors'] ?? [], cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [] }),
    count: (command, { db, store }) => ({
      n: window(store.find(`${db}.${command['count']}`, command['query']), command['skip'], command['limit']).length,
    }),
    // Enough of aggregate for countDocuments(): $match, $sort, $skip, $limit, and a counting $group.
    aggregate: (command, { db, store }) => {
      const namespace = `${db}.${command['aggregate']}`
      let docs = store.documents(namespace)
      for (const stage of (command['pipeline'] as Document[]) ?? []) {
        const [name, arg] = Object.entries(stage)[0] ?? []
        if (name === '$match') docs = docs.filter((d) => matches(d, arg))
        else if (name === '$sort') docs = sortDocuments(docs, arg)
        else if (name === '$skip') docs = docs.slice(arg)
        else if (name === '$limit') docs = docs.slice(0, arg)
        else if (name === '$group' && isCountingGroup(arg)) {
          const field = Object.keys(arg).find((k) => k !== '_id') as string
          docs = docs.length === 0 ? [] : [{ _id: arg['_id'], [field]: docs.length }]
        } else {
          throw new CommandError(2, 'BadValue', `aggregate stage ${name} is not supported by the wire test server`)
        }
      }
      return cursorReply(namespace, docs, 'firstBatch')
    },

    create: (command, { db, store }) => (store.create(`${db}.${command['create']}`), {}),
    drop: (command, { db, store }) => {
      if (store.dropCollection(`${db}.${command['drop']}`)) return {}
      throw new CommandError(26, 'NamespaceNotFound', 'ns not found')
    },
    dropDatabase: (_command, { db, store }) => (store.dropDatabase(db), {}),
    listCollections: (_command, { db, store }) => {
      const names = store.namespaces().filter((ns) => ns.startsWith(`${db}.`)).map((ns) => ns.slice(db.length + 1))
      return cursorReply(`${db}.$cmd.listCollections`, names.map((name) => ({ name, type: 'collection', options: {} })), 'firstBatch')
    },
    listDatabases: (_command, { store }) => {
      const names = [...new Set(store.namespaces().map((ns) => ns.split('.')[0] as string))]
      return { databases: names.map((name) => ({ name, sizeOnDisk: 0, empty: false })), totalSize: 0 }
    },
  }
  handlers['buildinfo'] = handlers['buildInfo'] as CommandHandler
  return handlers
}

// `{ _id: <constant>, n: { $sum: 1 } }`, the shape countDocuments() sends.
function isCountingGroup(group: Document): boolean {
  const fields = Object.entries(group).filter(([k]) => k !== '_id')
  return fields.length === 1 && (fields[0]?.[1] as Document | undefined)?.['$sum'] === 1
}

function isOperators(value: unknown): boolean {
  return value !== null && typeof value === 'object' && Object.keys(value).some((k) => k.startsWith('$'))
}
