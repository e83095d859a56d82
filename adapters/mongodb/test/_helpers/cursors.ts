// Server cursors that span batches, for the wire server (whose built-in `find` answers in one batch): what a
// `getMore` or a `killCursors` does to them is what cursor tests assert.
import { Long, type Document } from 'bson'
import { CommandError, type CommandHandler } from '@lifeguard/test-kit'

/** Open server cursors and the ids killed, by `batchedCursors()`'s handlers. */
export interface CursorLog {
  readonly open: Map<string, { namespace: string; rest: Document[] }>
  readonly killed: string[]
}

/**
 * `find` over the collection `name`'s documents `{ _id: 0 }` ... `{ _id: count - 1 }`, in batches of the
 * command's `batchSize`, with `getMore` and `killCursors` on the cursors it leaves open.
 */
export function batchedCursors(count: number): { commands: Record<string, CommandHandler>; cursors: CursorLog } {
  const cursors: CursorLog = { open: new Map(), killed: [] }
  const docs = Array.from({ length: count }, (_, n) => ({ _id: n }))
  let nextId = 1n
  const reply = (id: bigint, namespace: string, batch: Document[], field: 'firstBatch' | 'nextBatch') => ({ cursor: { id: Long.fromBigInt(id), ns: namespace, [field]: batch } })
  const commands: Record<string, CommandHandler> = {
    find: (command, { db }) => {
      const namespace = `${db}.${command['find']}`
      const size = typeof command['batchSize'] === 'number' ? command['batchSize'] : count
      if (size >= count) return reply(0n, namespace, docs, 'firstBatch')
      const id = nextId++
      cursors.open.set(String(id), { namespace, rest: docs.slice(size) })
      return reply(id, namespace, docs.slice(0, size), 'firstBatch')
    },
    getMore: (command) => {
      const id = String(command['getMore'])
      const cursor = cursors.open.get(id)
      if (cursor === undefined) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`)
      const size = typeof command['batchSize'] === 'number' ? command['batchSize'] : cursor.rest.length
      const batch = cursor.rest.splice(0, size)
      if (cursor.rest.length === 0) cursors.open.delete(id)
      return reply(cursor.rest.length === 0 ? 0n : BigInt(id), cursor.namespace, batch, 'nextBatch')
    },
    killCursors: (command) => {
      const ids = ((command['cursors'] as unknown[]) ?? []).map(String)
      for (const id of ids) {
        cursors.killed.push(id)
        cursors.open.delete(id)
      }
      return { cursorsKilled: command['cursors'] ?? [], cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [] }
    },
  }
  return { commands, cursors }
}

/** Change streams open on the server, and their cursor ids killed, by `changeStreams()`'s handlers. */
export interface ChangeStreamLog {
  readonly open: Set<string>
  readonly killed: string[]
  getMores: number
}

/**
 * `aggregate` with a `$changeStream` stage, as a replica set answers it: a cursor that stays open, whose
 * `getMore` waits `awaitMillis` (the server's `maxAwaitTimeMS`) and answers with no change; `killCursors`
 * closes it.
 */
export function changeStreams(awaitMillis = 50): { commands: Record<string, CommandHandler>; streams: ChangeStreamLog } {
  const streams: ChangeStreamLog = { open: new Set(), killed: [], getMores: 0 }
  let nextId = 100n
  const reply = (id: string, namespace: string, field: 'firstBatch' | 'nextBatch') => ({ cursor: { id: Long.fromString(id), ns: namespace, [field]: [], postBatchResumeToken: { _data: `token-${id}` } } })
  const commands: Record<string, CommandHandler> = {
    aggregate: (command, { db }) => {
      const first = (command['pipeline'] as Document[] | undefined)?.[0]
      if (first?.['$changeStream'] === undefined) throw new CommandError(2, 'BadValue', 'only change streams here')
      const id = String(nextId++)
      streams.open.add(id)
      return reply(id, `${db}.${command['aggregate']}`, 'firstBatch')
    },
    getMore: async (command, { db }) => {
      const id = String(command['getMore'])
      if (!streams.open.has(id)) throw new CommandError(43, 'CursorNotFound', `cursor id ${id} not found`)
      streams.getMores++
      await new Promise((resolve) => setTimeout(resolve, awaitMillis))
      return reply(id, `${db}.${command['collection']}`, 'nextBatch')
    },
    killCursors: (command) => {
      for (const id of ((command['cursors'] as unknown[]) ?? []).map(String)) {
        streams.killed.push(id)
        streams.open.delete(id)
      }
      return { cursorsKilled: command['cursors'] ?? [], cursorsNotFound: [], cursorsAlive: [], cursorsUnknown: [] }
    },
  }
  return { commands, streams }
}
