// Opening a connection: to the one server configured, or to the first of several servers whose session
// fits `targetSessionAttrs` (libpq's multi-host connect), checking the session when a target is set.
import type { Clock } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { TargetSessionAttrs } from '../options.js'
import { isPermanentConnectError } from './connect-failure.js'
import { HostOrder } from './host-order.js'
import { endClient } from './end-client.js'
import { describeRole, readSessionRole, roleMatches } from './session-target.js'
import type { PgPoolSettings } from './settings.js'

/** A connected client, watched for failures until the pool takes it over. */
export interface OpenedClient {
  readonly client: pg.Client
  /** Stops watching; returns the first failure it reported meanwhile (it is then unusable). */
  detach(): Error | undefined
}

/** Opens a connection as the settings say; rejects with the (last) reason when no server fits. */
export type Connect = (signal: AbortSignal) => Promise<OpenedClient>

interface Candidate {
  /** `host:port`, for errors. */
  readonly label: string
  readonly config: pg.ClientConfig
}

/**
 * How a pool opens connections. With one server and no target this is a plain `connect()`; otherwise
 * the servers are tried in order (see `HostOrder`), each with an equal share of `connectTimeoutMillis`,
 * and each connection is asked `pg_is_in_recovery()` and `transaction_read_only` before it is accepted.
 */
export function connectorFor(settings: PgPoolSettings, clock: Clock): Connect {
  const { Client, clientConfig, hosts, targetSessionAttrs: target } = settings
  if (hosts === undefined && target === 'any') return (signal) => openClient(Client, clientConfig, signal)
  const share = hosts !== undefined && hosts.length > 1 && settings.connectTimeoutMillis > 0 ? Math.max(1, Math.floor(settings.connectTimeoutMillis / hosts.length)) : 0
  const candidates: Candidate[] =
    hosts === undefined
      ? [{ label: labelOf(clientConfig), config: clientConfig }]
      : hosts.map((entry) => {
          const config: pg.ClientConfig = { ...clientConfig, host: entry.host }
          // The password is kept out of sight (not enumerable), so a spread leaves it behind.
          if (clientConfig.password !== undefined) Object.defineProperty(config, 'password', { value: clientConfig.password, enumerable: false, writable: true, configurable: true })
          if (entry.port !== undefined) config.port = entry.port
          if (share > 0) config.connectionTimeoutMillis = share
          return { label: labelOf(config), config }
        })
  const order = new HostOrder(candidates, clock)
  return (signal) => firstFitting(order, target, signal, (config) => openClient(Client, config, signal), share, clock)
}

async function firstFitting(
  order: HostOrder<Candidate>,
  target: TargetSessionAttrs,
  signal: AbortSignal,
  open: (config: pg.ClientConfig) => Promise<OpenedClient>,
  shareMillis: number,
  clock: Clock,
): Promise<OpenedClient> {
  const reasons: string[] = []
  let permanent: Error | undefined
  let transient = false
  // prefer-standby: the first server that answered, kept in case no standby does.
  let fallback: OpenedClient | undefined
  // Given up (the attempt timed out, or the pool closes): nothing opened here may outlive it, and the host
  // that used up the time goes to the back of the line.
  const abandoned = (candidate: Candidate, error: unknown): never => {
    order.record(candidate, false)
    if (fallback !== undefined) close(fallback)
    throw error
  }
  for (const candidate of order.order()) {
    if (signal.aborted) break
    let opened: OpenedClient
    try {
      opened = await open(candidate.config)
    } catch (error) {
      if (signal.aborted) abandoned(candidate, error)
      order.record(candidate, false)
      if (isPermanentConnectError(error, typeof candidate.config.password === 'function')) permanent ??= error
      else transient = true
      reasons.push(`${candidate.label} ${connectFailure(error, shareMillis)}`)
      continue
    }
    // Given up while the last step of the connect settled: the session check below would not be bounded.
    if (signal.aborted) {
      close(opened)
      abandoned(candidate, signal.reason)
    }
    if (target === 'any') {
      order.record(candidate, true)
      return opened
    }
    let matched: boolean
    // True once the server said what it is: only such a connection may serve as the fallback (a failed or
    // cut-short check has closed its client).
    let answered = false
    // The session check is held to the host's share too: a server that connects and never answers (a paused
    // PgBouncer) would otherwise use up the whole attempt, and the next host would never be tried.
    const check = new AbortController()
    const followAttempt = () => check.abort(signal.reason)
    signal.addEventListener('abort', followAttempt, { once: true })
    const timer = shareMillis > 0 ? clock.setTimeout(() => check.abort(new Error(`did not answer the session check within ${shareMillis}ms`)), shareMillis) : undefined
    try {
      const role = await abortable(check.signal, opened.client, () => readSessionRole(opened.client))
      answered = true
      matched = roleMatches(target, role)
      if (!matched) reasons.push(`${candidate.label} is ${describeRole(role)}`)
    } catch (error) {
      if (signal.aborted) abandoned(candidate, error)
      matched = false
      reasons.push(`${candidate.label} ${check.signal.aborted ? (error as Error).message : `failed the session check (${error instanceof Error ? error.message : String(error)})`}`)
    } finally {
      signal.removeEventListener('abort', followAttempt)
      if (timer !== undefined) clock.clearTimeout(timer)
    }
    order.record(candidate, matched)
    if (matched) {
      if (fallback !== undefined) close(fallback)
      return opened
    }
    transient = true
    if (target === 'prefer-standby' && fallback === undefined && answered) fallback = opened
    else close(opened)
  }
  if (signal.aborted) {
    if (fallback !== undefined) close(fallback)
    throw signal.reason
  }
  if (fallback !== undefined) return fallback
  if (permanent !== undefined && !transient) throw permanent
  throw new Error(`No server fits targetSessionAttrs '${target}': ${reasons.join('; ')}.`)
}

/**
 * Connects one client. Until the pool takes it over (`detach()`), errors and the end of the connection are
 * recorded instead of crashing the process or reaching the pool.
 */
export async function openClient(Client: PgPoolSettings['Client'], config: pg.ClientConfig, signal: AbortSignal): Promise<OpenedClient> {
  const client = new Client(config)
  let failure: Error | undefined
  const onError = (error: Error) => {
    failure ??= error
  }
  const onEnd = () => {
    failure ??= new Error('The connection ended.')
  }
  client.on('error', onError)
  client.on('end', onEnd)
  await abortable(signal, client, () => client.connect())
  return {
    client,
    detach() {
      client.off('error', onError)
      client.off('end', onEnd)
      return failure
    },
  }
}

/**
 * Runs connection steps, giving up at once when the pool abandons the attempt (connect timeout,
 * close): the socket is closed through `client.end()` and the attempt rejects with the signal's reason.
 * (pg never settles a `connect()` whose client was ended meanwhile, so the race is ours to run.) A step
 * that fails closes the client too.
 */
export function abortable<T>(signal: AbortSignal, client: pg.Client, steps: () => Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const abandon = () => {
      reject(signal.reason)
      void endClient(client)
    }
    if (signal.aborted) return abandon()
    signal.addEventListener('abort', abandon, { once: true })
    steps().then(
      (value) => {
        signal.removeEventListener('abort', abandon)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', abandon)
        void endClient(client)
        reject(error)
      },
    )
  })
}

function close(opened: OpenedClient): void {
  opened.detach()
  opened.client.on('error', () => undefined)
  void endClient(opened.client)
}

function labelOf(config: pg.ClientConfig): string {
  try {
    const probe = new pg.Client(config)
    return `${probe.host}:${probe.port}`
  } catch {
    return 'the server'
  }
}

function connectFailure(error: unknown, shareMillis: number): string {
  const code = (error as { code?: unknown } | null)?.code
  if (code === 'ECONNREFUSED') return 'refused the connection (ECONNREFUSED)'
  const message = error instanceof Error ? error.message : String(error)
  if (shareMillis > 0 && /timeout expired|connection timeout/i.test(message)) return `did not answer within ${shareMillis}ms`
  return `failed (${message.replace(/\.$/, '')})`
}
