import { OperationContext, PoolExhaustedError, PoolTimeoutError } from '@lifeguard/core'
import '@lifeguard/postgres'
import type { ConformanceRoute, RouteCall } from './driver.js'
import type { Fixture, Probe } from './fixture.js'
import { aborted, delay, Signals } from './wait.js'

/** Server-side events the tests wait for, by request id. */
export interface RouteSignals {
  /** A handler started (so the client can abort mid-request). */
  readonly entered: Signals
  /** Lets a streamed response send its second chunk. */
  readonly gates: Signals
}

const probeOf = (call: Pick<RouteCall, 'context'>): Probe => call.context.get<Probe>('probe')
const isCurrent = (context: OperationContext): boolean => OperationContext.tryCurrent() === context

/** Headers `/pool/after-headers` sets before it fails: the first six describe its body, the last two do not. */
export const bodyHeaders: Readonly<Record<string, string>> = {
  'Content-Encoding': 'gzip',
  'Content-Length': '5',
  'Content-Disposition': 'attachment; filename="orders.csv"',
  'Cache-Control': 'public, max-age=3600',
  ETag: '"v1"',
  'Last-Modified': 'Sun, 06 Dec 2026 00:00:00 GMT',
  'Access-Control-Allow-Origin': 'https://shop.example',
  'Content-Security-Policy': "default-src 'none'",
}

/** The routes every framework serves for the suite. */
export function conformanceRoutes(fixture: Fixture, signals: RouteSignals): ConformanceRoute[] {
  return [
    {
      path: '/context/:id',
      async handle({ context, params }) {
        const probe = probeOf({ context })
        const checks: Record<string, boolean> = { start: isCurrent(context) }
        await delay(2)
        checks['after await'] = isCurrent(context)
        checks['in setImmediate'] = await new Promise<boolean>((resolve) => setImmediate(() => resolve(isCurrent(context))))
        checks['in setTimeout'] = await new Promise<boolean>((resolve) => setTimeout(() => resolve(isCurrent(context)), 1))
        checks['in queueMicrotask'] = await new Promise<boolean>((resolve) => queueMicrotask(() => resolve(isCurrent(context))))
        checks['same scoped instance'] = OperationContext.current().get('probe') === probe
        checks['same singleton'] = OperationContext.current().get('clock') === fixture.container.resolve('clock')
        return { json: { checks, id: params['id'], requestId: context.requestId, handler: context.handler, operation: context.operation } }
      },
    },
    {
      path: '/isolation/:n',
      async handle(call) {
        const { context } = call
        const n = Number(call.params['n'])
        const probe = probeOf(call)
        let isolated = probe.context === context
        for (let step = 0; step < 3; step++) {
          await delay((n * 7 + step * 3) % 5)
          const now = OperationContext.current()
          isolated &&= now === context && now.requestId === `iso-${n}` && now.get('probe') === probe && now.scope === context.scope
        }
        return { json: { n, isolated, requestId: context.requestId } }
      },
    },
    {
      // A handler that answers with its own request id header (a proxy passing an upstream id on, say).
      path: '/own-request-id/:id',
      handle({ params }) {
        return { json: { ok: true }, headers: { 'X-Request-Id': params['id']! } }
      },
    },
    {
      path: '/ok',
      handle(call) {
        probeOf(call)
        return { json: { ok: true, at: call.context.get<{ now(): number }>('clock').now() } }
      },
    },
    {
      // A status that carries no body: a DELETE's or a PUT's answer, say.
      path: '/no-content',
      handle(call) {
        probeOf(call)
        return { empty: 204 }
      },
    },
    {
      // A conditional GET answered from a cache validator: the client's copy is current.
      path: '/not-modified',
      handle(call) {
        probeOf(call)
        return { empty: 304, headers: { ETag: '"v1"', 'Cache-Control': 'no-cache' } }
      },
    },
    {
      path: '/throw',
      async handle(call) {
        probeOf(call)
        await delay(1)
        throw new Error('Handler failed on purpose.')
      },
    },
    {
      path: '/stream',
      handle(call) {
        probeOf(call)
        const gate = signals.gates.get(call.context.requestId ?? '')
        async function* chunks(): AsyncGenerator<string> {
          yield 'first\n'
          await gate.promise
          yield 'second\n'
        }
        return { stream: chunks() }
      },
    },
    {
      path: '/slow',
      async handle(call) {
        const { context } = call
        const probe = probeOf(call)
        signals.entered.get(context.requestId ?? '').resolve()
        await aborted(context.signal)
        probe.sawAbort = context.signal.aborted
        // Still working after the client left: the scope must not be disposed under our feet.
        await delay(20)
        probe.disposedWhileRunning = probe.disposeCount > 0 || context.disposed
        return { json: { late: true } }
      },
    },
    {
      path: '/faulty',
      handle(call) {
        call.context.get('faulty')
        return { json: { ok: true, body: 'intact' } }
      },
    },
    {
      path: '/deadline',
      async handle({ context }) {
        await aborted(context.signal)
        const reason = context.signal.reason as { name?: string } | undefined
        // The server runs in the test's process: the test compares this with when it sent the request.
        return { json: { aborted: context.signal.aborted, reason: reason?.name, abortedAt: performance.now() } }
      },
    },
    {
      path: '/named/:id',
      async handle(call) {
        probeOf(call)
        await delay(1)
        return { json: { operation: call.context.operation } }
      },
    },
    {
      // A handler that names its operation itself (what it does, not where it is routed).
      path: '/self-named/:id',
      async handle(call) {
        probeOf(call)
        // Read once while routed: the adapter's name is built, then replaced.
        const routed = call.context.operation
        call.context.setOperation('orders.create')
        await delay(1)
        return { json: { routed, operation: call.context.operation } }
      },
    },
    {
      // The name from the handler's first line and after an await.
      path: '/names/:id',
      async handle(call) {
        probeOf(call)
        const first = call.context.operation
        await delay(1)
        return { json: { first, afterAwait: call.context.operation } }
      },
    },
    {
      // Holds a client in an open transaction until the client goes away; the scope must give it back.
      path: '/pg/hold',
      async handle(call) {
        const { context } = call
        const probe = probeOf(call)
        const client = await context.postgres.connect()
        await client.query('BEGIN')
        await client.query('SELECT 1')
        signals.entered.get(context.requestId ?? '').resolve()
        await aborted(context.signal)
        probe.sawAbort = context.signal.aborted
        return { json: { held: true } }
      },
    },
    {
      // One query, its errors left to the framework (and to the 503 mapping).
      path: '/pg/query-unguarded',
      async handle({ context }) {
        await context.postgres.query('SELECT 1')
        return { json: { ok: true } }
      },
    },
    {
      // One query on a client checked out for it; waits for one when the pool is busy.
      path: '/pg/query',
      async handle(call) {
        const { context } = call
        const probe = probeOf(call)
        signals.entered.get(context.requestId ?? '').resolve()
        try {
          const { rows } = await context.postgres.query<{ open: boolean }>("SELECT now() <> statement_timestamp() AS open")
          return { json: { inTransaction: rows[0]?.open } }
        } catch (error) {
          probe.sawAbort = context.signal.aborted
          return { json: { error: (error as { code?: string }).code }, status: 503 }
        }
      },
    },
    {
      // Pool pressure (also as an error's cause) and any other error, thrown by the handler.
      path: '/pool/:kind',
      async handle({ params, setHeader }) {
        // Headers a read endpoint sets before it queries: they describe a body the error replaces.
        if (params['kind'] === 'after-headers') {
          for (const [name, value] of Object.entries(bodyHeaders)) setHeader(name, value)
          throw new PoolTimeoutError('orders', 5000)
        }
        await delay(1)
        if (params['kind'] === 'exhausted') throw new PoolExhaustedError('orders', 10)
        if (params['kind'] === 'timeout') throw new Error('Could not load the order.', { cause: new PoolTimeoutError('orders', 5000) })
        throw new Error('Something else broke.')
      },
    },
    {
      path: '/bounded/:n',
      handle({ context, params }) {
        context.get('tracked')
        context.get('clock')
        return { json: { n: Number(params['n']) } }
      },
    },
  ]
}
