// The soak's load on the orders service: paced closed-loop workers sending a mix of order requests,
// plus bursts of requests the bench aborts mid-flight. Every request is tallied by how it ended.
import { Agent } from 'node:http'
import { setTimeout as sleep } from 'node:timers/promises'
import { send, type Call, type Outcome } from './soak-http.js'

/** The problem codes a 5xx of the service may carry: anything else (`internal`, none) is untyped. */
export const TYPED_5XX_CODES: ReadonlySet<string> = new Set(['service_busy', 'connection_lost', 'operation_aborted'])

interface RequestKind {
  name: string
  weight: number
  /** Needs the database: a 2xx proves the service reaches it. */
  db: boolean
  expected: number
  call(load: MixedLoad): Call
}

const ITEMS = ['tea', 'coffee', 'scone', 'jam', 'cake']
const randomInt = (below: number): number => Math.floor(Math.random() * below)

function newOrder(): string {
  const skus = [...ITEMS].sort(() => Math.random() - 0.5).slice(0, 1 + randomInt(3))
  return JSON.stringify({ customer: `soak-${randomInt(1000)}`, items: skus.map((sku) => ({ sku, quantity: 1 + randomInt(3), priceCents: 100 + randomInt(900) })) })
}

// Before the first order exists, a read of the list stands in for a read by id.
function knownOrder(load: MixedLoad): string {
  const id = load.knownId()
  return id === undefined ? '/orders?limit=1' : `/orders/${id}`
}

// Mostly reads and writes that succeed, some requests the service must refuse (400/404) on every path.
const MIX: readonly RequestKind[] = [
  { name: 'POST /orders', weight: 25, db: true, expected: 201, call: () => ({ method: 'POST', path: '/orders', body: newOrder() }) },
  { name: 'GET /orders/:id', weight: 40, db: true, expected: 200, call: (load) => ({ method: 'GET', path: knownOrder(load) }) },
  { name: 'GET /orders?limit', weight: 20, db: true, expected: 200, call: () => ({ method: 'GET', path: `/orders?limit=${1 + randomInt(50)}` }) },
  { name: 'GET /orders/:unknown', weight: 5, db: true, expected: 404, call: () => ({ method: 'GET', path: `/orders/${9e15 + randomInt(1e6)}` }) },
  { name: 'POST /orders (invalid)', weight: 5, db: false, expected: 400, call: () => ({ method: 'POST', path: '/orders', body: '{"customer":"","items":[]}' }) },
  { name: 'GET /orders?limit=abc', weight: 5, db: false, expected: 400, call: () => ({ method: 'GET', path: '/orders?limit=abc' }) },
]
const TOTAL_WEIGHT = MIX.reduce((sum, kind) => sum + kind.weight, 0)

function pick(): RequestKind {
  let roll = Math.random() * TOTAL_WEIGHT
  for (const kind of MIX) if ((roll -= kind.weight) < 0) return kind
  return MIX[0] as RequestKind
}

/** Counts of everything the load sent, by how it ended. */
export class LoadTally {
  /** Requests that had to be answered: every request but those the bench aborted on purpose. */
  sent = 0
  answered = 0
  /** Answered with the status the request asks for, or a typed 503. */
  asExpected = 0
  /** Aborted by the bench before their response was complete (not counted in `sent`). */
  aborted = 0
  /** Neither answered nor aborted by the bench, by reason (socket error code, `timeout`). */
  readonly noResponse = new Map<string, number>()
  serverErrors = 0
  typedServerErrors = 0
  /** 5xx responses by problem code (`(none)` without one). */
  readonly serverErrorCodes = new Map<string, number>()
  /** Responses without `x-request-id`. */
  missingRequestId = 0
  /** Requests sent again after a stale keep-alive socket (see `send`). */
  staleSocketRetries = 0
  /** Answered requests by route and status: `{ 'GET /orders/:id': { 200: 123 } }`. */
  readonly byKind = new Map<string, Map<number, number>>()
  /** The first few failures, for the report. */
  readonly examples: string[] = []
}

/** Per-window figures for progress lines, reset by {@link MixedLoad.takeWindow}. */
export interface LoadWindow {
  answered: number
  serverErrors: number
  noResponse: number
  latenciesMillis: number[]
}

/** Options of {@link MixedLoad}. */
export interface MixedLoadOptions {
  /** Workers, each with one request in flight at a time. */
  concurrency: number
  /** Target requests per second over all workers; 0 for as fast as answered. */
  ratePerSec: number
  /** A request unanswered after this long counts as a hang. */
  timeoutMillis: number
}

/** The paced mixed load against one service. */
export class MixedLoad {
  readonly tally = new LoadTally()
  readonly #base: URL
  readonly #options: MixedLoadOptions
  readonly #agent: Agent
  readonly #ids: string[] = []
  readonly #workers: Promise<void>[] = []
  #window: LoadWindow = { answered: 0, serverErrors: 0, noResponse: 0, latenciesMillis: [] }
  #nextSlot = 0
  #stopping = false
  #lastDbSuccessStart = Number.NEGATIVE_INFINITY
  #typicalLatencyMillis = 10

  constructor(baseUrl: string, options: MixedLoadOptions) {
    this.#base = new URL(baseUrl)
    this.#options = options
    // FIFO keeps every socket in use, and a free socket is dropped after 4 s, before the server's 5 s
    // keep-alive timeout: otherwise a socket left idle (LIFO reuses the same few) is picked up by the next
    // surge just as the server closes it, and the request fails for the client's reasons, not the service's.
    this.#agent = new Agent({ keepAlive: true, maxSockets: options.concurrency, scheduling: 'fifo', timeout: 4_000 })
  }

  /** An id of an order created earlier in the run, if any. */
  knownId(): string | undefined {
    return this.#ids[randomInt(this.#ids.length)]
  }

  /** When (`performance.now()`) the latest request that reached the database successfully was sent. */
  get lastDbSuccessStart(): number {
    return this.#lastDbSuccessStart
  }

  /** Starts the workers. */
  start(): void {
    for (let i = 0; i < this.#options.concurrency; i++) this.#workers.push(this.#work())
  }

  /** Stops sending and waits for the requests in flight. Idempotent. */
  async stop(): Promise<void> {
    this.#stopping = true
    await Promise.all(this.#workers)
    this.#agent.destroy()
  }

  /** The figures since the previous call. */
  takeWindow(): LoadWindow {
    const window = this.#window
    this.#window = { answered: 0, serverErrors: 0, noResponse: 0, latenciesMillis: [] }
    return window
  }

  /**
   * Sends `count` extra requests spread over `spreadMillis`, each on a socket of its own, aborting each
   * after a random 0 to 2x the load's typical latency (so, on a fast or a slow machine alike, some before
   * the service reads them, many while it works on them, some too late); half of the orders among them are
   * cut mid-body.
   *
   * @returns how many were aborted and how many were answered before their abort
   */
  async abortBurst(count: number, spreadMillis: number): Promise<{ aborted: number; answered: number }> {
    const kinds = MIX.filter((kind) => kind.db)
    const outcomes = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        await sleep(Math.random() * spreadMillis)
        const kind = kinds[i % kinds.length] as RequestKind
        const call = kind.call(this)
        return this.#one(kind, call, { abortAfterMillis: Math.random() * 2 * this.#typicalLatencyMillis, partialBody: call.body !== undefined && i % 2 === 0 })
      }),
    )
    const ended = (how: Outcome['kind']): number => outcomes.filter((outcome) => outcome.kind === how).length
    return { aborted: ended('aborted'), answered: ended('response') }
  }

  async #work(): Promise<void> {
    while (!this.#stopping) {
      await this.#pace()
      if (this.#stopping) return
      const kind = pick()
      await this.#one(kind, kind.call(this))
    }
  }

  // Slots shared by all workers, `1000 / rate` ms apart; a late worker takes the next slot from now, so a
  // stall (a restarting database) is not followed by a catch-up burst.
  async #pace(): Promise<void> {
    if (this.#options.ratePerSec <= 0) return
    const now = performance.now()
    const slot = Math.max(now, this.#nextSlot)
    this.#nextSlot = slot + 1000 / this.#options.ratePerSec
    if (slot > now) await sleep(slot - now)
  }

  async #one(kind: RequestKind, call: Call, abort: { abortAfterMillis?: number; partialBody?: boolean } = {}): Promise<Outcome> {
    const started = performance.now()
    const { outcome, retried } = await send(this.#base, call, {
      agent: abort.abortAfterMillis === undefined ? this.#agent : false,
      timeoutMillis: this.#options.timeoutMillis,
      ...abort,
    })
    if (retried) this.tally.staleSocketRetries++
    this.#record(kind, call, outcome, started)
    return outcome
  }

  #record(kind: RequestKind, call: Call, outcome: Outcome, started: number): void {
    const tally = this.tally
    if (outcome.kind === 'aborted') {
      tally.aborted++
      return
    }
    tally.sent++
    if (outcome.kind === 'no-response') {
      tally.noResponse.set(outcome.reason, (tally.noResponse.get(outcome.reason) ?? 0) + 1)
      this.#window.noResponse++
      this.#example(`no response (${outcome.reason}): ${call.method} ${call.path}`)
      return
    }
    tally.answered++
    this.#window.answered++
    const latency = performance.now() - started
    this.#window.latenciesMillis.push(latency)
    // A moving average over roughly the last 50 answers.
    this.#typicalLatencyMillis += (latency - this.#typicalLatencyMillis) / 50
    const statuses = tally.byKind.get(kind.name) ?? new Map<number, number>()
    statuses.set(outcome.status, (statuses.get(outcome.status) ?? 0) + 1)
    tally.byKind.set(kind.name, statuses)
    if (!outcome.hasRequestId) tally.missingRequestId++
    const typed = outcome.code !== undefined && TYPED_5XX_CODES.has(outcome.code)
    if (outcome.status >= 500) {
      tally.serverErrors++
      this.#window.serverErrors++
      tally.serverErrorCodes.set(outcome.code ?? '(none)', (tally.serverErrorCodes.get(outcome.code ?? '(none)') ?? 0) + 1)
      if (typed) tally.typedServerErrors++
      else this.#example(`untyped ${outcome.status}: ${call.method} ${call.path} -> ${outcome.body.slice(0, 200)}`)
    }
    if (outcome.status === kind.expected || (outcome.status === 503 && typed)) tally.asExpected++
    else if (outcome.status < 500) this.#example(`unexpected ${outcome.status} for ${kind.name}: ${outcome.body.slice(0, 200)}`)
    if (outcome.status >= 200 && outcome.status < 300 && kind.db) {
      this.#lastDbSuccessStart = Math.max(this.#lastDbSuccessStart, started)
      if (kind.name === 'POST /orders') this.#rememberId(outcome.body)
    }
  }

  #rememberId(body: string): void {
    const id = (JSON.parse(body) as { id?: unknown }).id
    if (typeof id !== 'string') return
    // A bounded ring: the run may create tens of thousands of orders.
    if (this.#ids.length < 1000) this.#ids.push(id)
    else this.#ids[randomInt(1000)] = id
  }

  #example(line: string): void {
    if (this.tally.examples.length < 10) this.tally.examples.push(line)
  }
}
