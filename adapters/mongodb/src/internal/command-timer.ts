import { OperationContext } from '@lifeguard/core'
import type { PoolMonitor } from '@lifeguard/core/adapter'
import type { CommandFailedEvent, CommandStartedEvent, CommandSucceededEvent, MongoClient } from 'mongodb'

// Commands whose answer never came (a driver path that skips both outcomes) must not pile up.
const maxInFlight = 10_000

/**
 * Turns the driver's command monitoring into the pool's `query` events: one per command its pool
 * connections run (`find`, `insert`, `getMore`, `commitTransaction`, ...), named by the command, timed from
 * sending to the answer, in the operation that sent it. The driver does not forward the handshake's or
 * the heartbeat monitor's `hello`, so those never count. Commands are timed on the monitor's clock (the
 * driver's own durations are whole milliseconds), and only while someone listens to `query`.
 */
export class CommandTimer {
  readonly #client: MongoClient
  readonly #monitor: PoolMonitor
  readonly #startedAt = new Map<number, number>()
  readonly #listeners: Array<[string, (event: never) => void]> = []

  constructor(client: MongoClient, monitor: PoolMonitor) {
    this.#client = client
    this.#monitor = monitor
    this.#listen('commandStarted', (event: CommandStartedEvent) => this.#started(event))
    this.#listen('commandSucceeded', (event: CommandSucceededEvent) => this.#finished(event, writeFailure(event)))
    this.#listen('commandFailed', (event: CommandFailedEvent) => this.#finished(event, event.failure))
  }

  /** Stops listening (after the client closed, so its last commands are still reported). */
  detach(): void {
    for (const [event, listener] of this.#listeners) this.#client.off(event as 'commandStarted', listener as never)
    this.#listeners.length = 0
    this.#startedAt.clear()
  }

  #listen<E>(event: string, listener: (event: E) => void): void {
    const safe = (payload: E) => {
      try {
        listener(payload)
      } catch (error) {
        // Reporting must never break the driver's command path; a bug here is still reported.
        this.#monitor.error(error, 'pool')
      }
    }
    this.#client.on(event as 'commandStarted', safe as never)
    this.#listeners.push([event, safe as never])
  }

  #started(event: CommandStartedEvent): void {
    if (!this.#monitor.events.has('query')) return
    if (this.#startedAt.size >= maxInFlight) this.#startedAt.clear()
    this.#startedAt.set(event.requestId, this.#monitor.clock.now())
  }

  #finished(event: CommandSucceededEvent | CommandFailedEvent, failure: Error | undefined): void {
    const startedAt = this.#startedAt.get(event.requestId)
    if (startedAt !== undefined) this.#startedAt.delete(event.requestId)
    if (!this.#monitor.events.has('query')) return
    // Started before anyone listened: the driver's whole-millisecond duration is all there is.
    const durationMillis = startedAt === undefined ? event.duration : this.#monitor.clock.now() - startedAt
    // The driver reports from inside the command's own async path: the current operation sent it.
    this.#monitor.queried(durationMillis, event.commandName, failure, OperationContext.tryCurrent(), event.databaseName)
  }
}

/**
 * The failure of a write the server answered `ok: 1` with `writeErrors` (a duplicate key, a document that
 * fails validation) or a `writeConcernError`: the driver reports the command as succeeded, and the caller
 * gets a `MongoServerError` or `MongoBulkWriteError` all the same. Named by its server code, as a failed
 * command is.
 */
function writeFailure(event: CommandSucceededEvent): Error | undefined {
  const reply = event.reply as { writeErrors?: unknown; writeConcernError?: unknown } | undefined
  if (reply === undefined || reply === null) return undefined
  const first = (Array.isArray(reply.writeErrors) ? reply.writeErrors[0] : undefined) ?? reply.writeConcernError
  if (typeof first !== 'object' || first === null) return undefined
  const { code, errmsg } = first as { code?: unknown; errmsg?: unknown }
  const failure = new Error(typeof errmsg === 'string' ? errmsg : 'The server refused the write.')
  failure.name = 'MongoServerError'
  return Object.assign(failure, { code })
}
