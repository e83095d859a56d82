import type { Server } from 'node:http'
import type { OperationContext, ServiceContainer } from '@lifeguard/core'

/** What the suite passes to the adapter's `lifeguard()` middleware. */
export interface ConformanceOptions {
  container: ServiceContainer<any>
  requestIdHeader?: string
  deadlineMillis?: number
  /** The adapter's `operationName`; the suite's ones ignore what the framework hands them. */
  operationName?: () => string | undefined
  /**
   * Answer pool pressure with 503 (`mapErrors` for Koa and Hono; for Express, `poolErrorHandler()` after
   * the routes).
   */
  mapErrors?: boolean | { retryAfterSeconds?: number }
  /**
   * Mounts a middleware before `lifeguard()` that awaits what this returns for the request (given its
   * `x-request-id`), as an auth or session lookup would: the client may leave meanwhile. `undefined`: no wait.
   */
  holdBefore?: (requestId: string | undefined) => Promise<void> | undefined
}

/** What a route handler is given, in the same shape for every framework. */
export interface RouteCall {
  /** The context as the framework's own idiom hands it out (`req.lifeguard`, `ctx.state.lifeguard`, `c.var.lifeguard`). */
  readonly context: OperationContext
  /** Route parameters. */
  readonly params: Readonly<Record<string, string>>
  /** Sets a response header the framework's own way (`res.setHeader`, `ctx.set`, `c.header`), before the reply. */
  readonly setHeader: (name: string, value: string) => void
}

/**
 * A JSON body (with headers set the framework's own way), a text body streamed chunk by chunk, or a status that
 * carries no body (204, 304) with its headers.
 */
export type RouteReply =
  | { readonly json: unknown; readonly status?: number; readonly headers?: Readonly<Record<string, string>> }
  | { readonly stream: AsyncIterable<string> }
  | { readonly empty: 204 | 304; readonly headers?: Readonly<Record<string, string>> }

/** A GET route (which the framework also answers HEAD from), with a path pattern every framework understands (`/items/:id`). */
export interface ConformanceRoute {
  readonly path: string
  /** May throw or reject: the framework's normal error handling must answer 500. */
  handle(call: RouteCall): RouteReply | Promise<RouteReply>
}

/** A started server. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string
  /** The Node server, to count its sockets' listeners. */
  readonly server: Server
  close(): Promise<void>
}

/**
 * How the suite drives one framework: start a server on 127.0.0.1 port 0 with `lifeguard(options)`
 * mounted first and then `routes`, each answering GET. A thrown error must reach the framework's normal
 * error handling (answered 500, not logged to the console).
 */
export interface FrameworkDriver {
  readonly name: string
  /** The adapter's `lifeguard()`, for the checks of its options (called with bad ones too). */
  readonly lifeguard: (options: ConformanceOptions) => (...args: never[]) => unknown
  start(options: ConformanceOptions, routes: readonly ConformanceRoute[]): Promise<RunningServer>
}
