// One HTTP request of the soak load, classified: a response (with its problem `code` when it is an
// error), aborted by the bench itself, or no response at all (a socket error or a hang).
import { request, type Agent } from 'node:http'

/** A request to send. */
export interface Call {
  method: 'GET' | 'POST'
  path: string
  /** A JSON body (sent as `application/json`). */
  body?: string
}

/** How a request ended. */
export type Outcome =
  | {
      kind: 'response'
      status: number
      /** The problem `code` of an `application/problem+json` body. */
      code: string | undefined
      retryAfter: string | undefined
      hasRequestId: boolean
      body: string
    }
  /** The bench aborted it (on purpose) before the response was complete. */
  | { kind: 'aborted' }
  /** Neither: the socket failed (`reason` is its error code) or nothing came back within the timeout. */
  | { kind: 'no-response'; reason: string }

/** Options of {@link send}. */
export interface SendOptions {
  agent: Agent | false
  /** A request still unanswered after this long is a hang: `no-response` with reason `timeout`. */
  timeoutMillis: number
  /** Abort (destroy the socket) this long after sending, unless the response is complete by then. */
  abortAfterMillis?: number
  /** Send only the first half of the body before the abort, as a client that goes away mid-upload. */
  partialBody?: boolean
}

/**
 * Sends `call` to `base` and resolves with how it ended; never rejects. A request that fails on a
 * reused keep-alive socket before anything was answered (the server closed it idle as it was being
 * reused) is sent once more, as Node's documentation advises; `retried` says so.
 */
export async function send(base: URL, call: Call, options: SendOptions): Promise<{ outcome: Outcome; retried: boolean }> {
  const first = await sendOnce(base, call, options)
  if (first.outcome.kind !== 'no-response' || !first.staleSocket) return { outcome: first.outcome, retried: false }
  return { outcome: (await sendOnce(base, call, options)).outcome, retried: true }
}

function sendOnce(base: URL, call: Call, options: SendOptions): Promise<{ outcome: Outcome; staleSocket: boolean }> {
  return new Promise((resolve) => {
    const headers: Record<string, string | number> = {}
    const body = call.body === undefined ? undefined : Buffer.from(call.body)
    if (body !== undefined) {
      headers['content-type'] = 'application/json'
      headers['content-length'] = body.length
    }
    const req = request({ agent: options.agent, host: base.hostname, port: base.port, method: call.method, path: call.path, headers })
    let settled = false
    let abortedByUs = false
    let answered = false
    const timers: NodeJS.Timeout[] = []
    const settle = (outcome: Outcome, staleSocket = false): void => {
      if (settled) return
      settled = true
      for (const timer of timers) clearTimeout(timer)
      resolve({ outcome, staleSocket })
    }
    timers.push(
      setTimeout(() => {
        req.destroy()
        settle({ kind: 'no-response', reason: 'timeout' })
      }, options.timeoutMillis),
    )
    if (options.abortAfterMillis !== undefined) {
      timers.push(
        setTimeout(() => {
          abortedByUs = true
          req.destroy()
          settle({ kind: 'aborted' })
        }, options.abortAfterMillis),
      )
    }
    req.on('error', (error: NodeJS.ErrnoException) => {
      if (abortedByUs) return settle({ kind: 'aborted' })
      const reason = error.code === undefined ? error.message : `${error.code} (${error.message})`
      settle({ kind: 'no-response', reason }, req.reusedSocket && !answered && error.code === 'ECONNRESET')
    })
    req.on('response', (res) => {
      answered = true
      const chunks: Buffer[] = []
      res.on('data', (chunk: Buffer) => chunks.push(chunk))
      const cut = (why: string): void => settle(abortedByUs ? { kind: 'aborted' } : { kind: 'no-response', reason: `response cut: ${why}` })
      res.on('error', (error: NodeJS.ErrnoException) => cut(error.code ?? error.message))
      res.on('close', () => {
        if (!res.complete) cut('closed')
      })
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString()
        const retryAfter = res.headers['retry-after']
        settle({
          kind: 'response',
          status: res.statusCode ?? 0,
          code: problemCode(res.headers['content-type'], text),
          retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          hasRequestId: res.headers['x-request-id'] !== undefined,
          body: text,
        })
      })
    })
    if (body === undefined) req.end()
    else if (options.partialBody === true) req.write(body.subarray(0, body.length >> 1))
    else req.end(body)
  })
}

function problemCode(contentType: string | undefined, text: string): string | undefined {
  if (contentType === undefined || !contentType.startsWith('application/problem+json')) return undefined
  try {
    const code = (JSON.parse(text) as { code?: unknown }).code
    return typeof code === 'string' ? code : undefined
  } catch {
    return undefined
  }
}
