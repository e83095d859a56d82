// A MongoDB wire-protocol server for tests: the real driver talks to it over loopback TCP, so its pool,
// monitor and CMAP events behave as against mongod, while the test controls connections and faults.
import { createServer, type Server, type Socket } from 'node:net'
import type { Document } from 'bson'
import { createCommandHandlers, helloReply, type CommandHandler } from './wire-commands.js'
import { encodeReply, parseMessage, takeMessages, type WireRequest } from './wire-protocol.js'
import { CommandError, WireStore } from './wire-store.js'

export type { CommandContext, CommandHandler } from './wire-commands.js'
export { CommandError } from './wire-store.js'

/** Options for {@link startWireServer}. */
export interface WireServerOptions {
  /** Extra or replacement command handlers, by command name. */
  commands?: Record<string, CommandHandler>
  /** Also log `hello`/`ismaster` (handshakes and heartbeats) in `commands`. Default `false`: they are noise. */
  logHeartbeats?: boolean
  /** Port to listen on. Default: a free one. Lets a test point a client at a server that starts later. */
  port?: number
  /**
   * Answer `hello` as a sharded cluster's router (`msg: 'isdbgrid'`, as mongos does), so that one client
   * given several of these keeps a connection pool per server. Default `false`: a standalone.
   */
  router?: boolean
}

/** One command as received, kind-1 document sequences merged into `body`. */
export interface LoggedCommand {
  readonly name: string
  readonly db: string
  readonly connectionId: number
  readonly body: Document
}

/**
 * What the server knows about one open connection. `kind` is inferred from traffic, since the monitor's
 * handshake looks like any other: `monitor` once it sent a heartbeat and nothing else, `pool` once it sent any
 * other command, `unknown` while it has only done its handshake (an idle pool connection, or a monitor
 * during its first `heartbeatFrequencyMS`).
 */
export interface WireConnection {
  readonly id: number
  readonly kind: 'monitor' | 'pool' | 'unknown'
  /** The handshake command (`ismaster` with the driver's `client` metadata), once received. */
  readonly handshake: Document | undefined
  readonly heartbeats: number
  readonly commands: number
}

/** The error document a fault replies with unless given one. */
export const SHUTDOWN_IN_PROGRESS = { code: 91, codeName: 'ShutdownInProgress', errmsg: 'The server is in quiesce mode and will shut down' }

/**
 * A fault for the next `times` (default 1) commands of one name. `closeSocket` drops the connection without a
 * reply, `delay` answers normally after `delayMillis`, `error` replies `{ ok: 0, ...error }`.
 */
export type WireFault =
  | { kind: 'closeSocket'; times?: number }
  | { kind: 'delay'; delayMillis: number; times?: number }
  | { kind: 'error'; error?: { code: number; codeName: string; errmsg: string }; times?: number }

const HELLO_NAMES = new Set(['hello', 'ismaster', 'isMaster'])

/** Starts a {@link WireServer} on 127.0.0.1 with a free port. */
export async function startWireServer(options: WireServerOptions = {}): Promise<WireServer> {
  const server = new WireServer(options)
  await server.restart()
  return server
}

/** The test server. Create it with {@link startWireServer}. */
export class WireServer {
  readonly #handlers: Record<string, CommandHandler>
  readonly #logHeartbeats: boolean
  #router: boolean
  readonly #store = new WireStore()
  readonly #listener: Server
  readonly #sockets = new Map<Socket, { id: number; handshake: Document | undefined; heartbeats: number; commands: number }>()
  readonly #faults = new Map<string, WireFault & { remaining: number }>()
  #log: LoggedCommand[] = []
  #port = 0
  #nextConnectionId = 0
  #nextResponseId = 0
  #refusing = false
  #acceptedCount = 0
  #refusedCount = 0

  constructor(options: WireServerOptions = {}) {
    this.#handlers = { ...createCommandHandlers(), ...options.commands }
    this.#logHeartbeats = options.logHeartbeats ?? false
    this.#router = options.router ?? false
    this.#port = options.port ?? 0
    this.#listener = createServer((socket) => this.#accept(socket))
  }

  /** Listening port (kept across `goAway()` and `restart()`). */
  get port(): number {
    return this.#port
  }

  /** A connection string for a single-server (direct) connection. */
  get uri(): string {
    return `mongodb://127.0.0.1:${this.#port}/?directConnection=true`
  }

  /** Open sockets now, the monitor's included. */
  get connectionCount(): number {
    return this.#sockets.size
  }

  /** Open sockets that are not known monitors (see {@link WireConnection} for the inference). */
  get poolConnectionCount(): number {
    return this.connections.filter((c) => c.kind !== 'monitor').length
  }

  /** Open sockets known to be monitors. */
  get monitorConnectionCount(): number {
    return this.connections.filter((c) => c.kind === 'monitor').length
  }

  /** Connections accepted since start (refused ones not included). */
  get acceptedCount(): number {
    return this.#acceptedCount
  }

  /** Connections accepted and dropped at once while `refuseNewConnections(true)`. */
  get refusedCount(): number {
    return this.#refusedCount
  }

  /** A snapshot of the open connections. */
  get connections(): WireConnection[] {
    return [...this.#sockets.values()].map((c) => ({
      ...c,
      kind: c.commands > 0 ? 'pool' : c.heartbeats > 0 ? 'monitor' : 'unknown',
    }))
  }

  /** Commands received since start or the last `clearLog()`, oldest first. */
  get commands(): readonly LoggedCommand[] {
    return this.#log
  }

  clearLog(): void {
    this.#log = []
  }

  /** Copies of the documents stored in `namespace` (`'db.collection'`). */
  documents(namespace: string): Document[] {
    return this.#store.documents(namespace)
  }

  /** Stores documents directly, without a client. */
  seed(namespace: string, documents: Document[]): void {
    for (const doc of documents) this.#store.insert(namespace, doc)
  }

  /**
   * Injects a fault into the next commands named `commandName`. Only that name is affected, so heartbeats go
   * on unless the name is `hello` (which matches `hello` and `ismaster`, handshakes included). Replaces an
   * earlier fault for the same name.
   */
  fault(commandName: string, fault: WireFault): void {
    const key = HELLO_NAMES.has(commandName) ? 'hello' : commandName
    this.#faults.set(key, { ...fault, remaining: fault.times ?? 1 })
  }

  clearFaults(): void {
    this.#faults.clear()
  }

  /**
   * From the next `hello` on, answer as a router (`true`) or as a standalone (`false`). A client of a sharded
   * cluster drops a server that stops answering as a router from its topology, and closes that server's pool.
   */
  setRouter(router: boolean): void {
    this.#router = router
  }

  /** While `true`, new connections are accepted and destroyed at once (the port stays taken). */
  refuseNewConnections(refuse: boolean): void {
    this.#refusing = refuse
  }

  /** Stops listening and drops every open connection, like a crashed server. `restart()` brings it back. */
  async goAway(): Promise<void> {
    // Wait for every 'close', so connectionCount is 0 when this resolves.
    const closed = [...this.#sockets.keys()].map((socket) => {
      const done = new Promise((resolve) => socket.once('close', resolve))
      socket.destroy()
      return done
    })
    if (this.#listener.listening) closed.push(new Promise((resolve) => this.#listener.close(resolve)))
    await Promise.all(closed)
  }

  /** Listens again on the same port (a free one on first start). Data and the log are kept. */
  async restart(): Promise<void> {
    if (this.#listener.listening) return
    await new Promise<void>((resolve, reject) => {
      this.#listener.once('error', reject)
      this.#listener.listen(this.#port, '127.0.0.1', () => {
        this.#listener.off('error', reject)
        resolve()
      })
    })
    this.#port = (this.#listener.address() as { port: number }).port
  }

  /** Stops listening and destroys every socket. Safe to call twice. */
  async close(): Promise<void> {
    this.#faults.clear()
    await this.goAway()
  }

  /**
   * Polls `predicate` every 10ms until it holds.
   * @throws {Error} `Timed out after <n>ms waiting for <description>` when it does not in time.
   */
  async waitFor(predicate: () => boolean, timeoutMillis = 2000, description = 'condition'): Promise<void> {
    const deadline = Date.now() + timeoutMillis
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMillis}ms waiting for ${description}`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  #accept(socket: Socket): void {
    if (this.#refusing) {
      this.#refusedCount += 1
      socket.destroy()
      return
    }
    this.#acceptedCount += 1
    const connection = { id: ++this.#nextConnectionId, handshake: undefined, heartbeats: 0, commands: 0 }
    this.#sockets.set(socket, connection)
    socket.setNoDelay(true)
    // Clients going away reset sockets all the time; that is not a test failure.
    socket.on('error', () => {})
    socket.on('close', () => this.#sockets.delete(socket))

    let pending: Buffer = Buffer.alloc(0)
    let queue = Promise.resolve()
    socket.on('data', (chunk: Buffer) => {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
      try {
        const { messages, rest } = takeMessages(pending)
        pending = rest
        // One at a time per connection, so a delayed command cannot be overtaken by the next one. A reply
        // that cannot be encoded drops the connection rather than leaving an unhandled rejection.
        for (const message of messages) {
          queue = queue.then(() => this.#handle(socket, message)).catch(() => void socket.destroy())
        }
      } catch {
        socket.destroy()
      }
    })
  }

  async #handle(socket: Socket, message: Buffer): Promise<void> {
    const connection = this.#sockets.get(socket)
    if (connection === undefined || socket.destroyed) return
    let request: WireRequest
    try {
      request = parseMessage(message)
    } catch {
      socket.destroy()
      return
    }
    const { command, db } = request
    const name = Object.keys(command)[0] ?? ''
    const isHello = HELLO_NAMES.has(name)
    if (!isHello) connection.commands += 1
    else if (connection.handshake === undefined) connection.handshake = command
    else connection.heartbeats += 1
    if (!isHello || this.#logHeartbeats) this.#log.push({ name, db, connectionId: connection.id, body: command })

    const fault = this.#takeFault(isHello ? 'hello' : name)
    if (fault?.kind === 'closeSocket') {
      socket.destroy()
      return
    }
    if (fault?.kind === 'delay') await sleepUnlessClosed(socket, fault.delayMillis)
    const reply =
      fault?.kind === 'error'
        ? { ok: 0, ...(fault.error ?? SHUTDOWN_IN_PROGRESS) }
        : isHello
          ? this.#router
            ? { ...helloReply(connection.id), msg: 'isdbgrid' }
            : helloReply(connection.id)
          : await this.#run(name, request, connection.id)
    if (request.moreToCome || socket.destroyed) return
    socket.write(encodeReply(request, reply, ++this.#nextResponseId))
  }

  async #run(name: string, request: WireRequest, connectionId: number): Promise<Document> {
    const handler = this.#handlers[name]
    if (handler === undefined) {
      return { ok: 0, errmsg: `no such command: ${name}`, code: 59, codeName: 'CommandNotFound' }
    }
    try {
      const result = await handler(request.command, { db: request.db, connectionId, store: this.#store })
      return { ...result, ok: result['ok'] ?? 1 }
    } catch (error) {
      if (error instanceof CommandError) return { ok: 0, errmsg: error.message, code: error.code, codeName: error.codeName }
      return { ok: 0, errmsg: String((error as Error)?.message ?? error), code: 1, codeName: 'InternalError' }
    }
  }

  #takeFault(key: string): WireFault | undefined {
    const fault = this.#faults.get(key)
    if (fault === undefined) return undefined
    fault.remaining -= 1
    if (fault.remaining <= 0) this.#faults.delete(key)
    return fault
  }
}

// A delay ends early when the socket closes, so close() never waits on a pending fault.
function sleepUnlessClosed(socket: Socket, millis: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer)
      socket.off('close', done)
      resolve()
    }
    const timer = setTimeout(done, millis)
    socket.once('close', done)
  })
}
