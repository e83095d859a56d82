import { InvalidOptionError, type ServiceContainer } from '@lifeguard/core'
import { validateOptions } from '@lifeguard/core/adapter'
import { middlewareOptionRules } from '@lifeguard/core/http'
import type { Request } from 'express'

/** Options of `lifeguard()`. */
export interface LifeguardOptions {
  /** The service container; every request gets its own scope from it. */
  container: ServiceContainer<any>
  /** The context's `handler`, e.g. the service's name. Default `'http'`. */
  handlerName?: string | undefined
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`GET /orders/:id`, or `METHOD path` when no route matched). Called when the request arrives and again
   * once it is routed. Keep names low-cardinality.
   */
  operationName?: ((req: Request) => string | undefined) | undefined
  /** Header that carries the request id in and out. Default `'x-request-id'`. */
  requestIdHeader?: string | undefined
  /** Abort the context's `signal` this many ms after the request arrives. */
  deadlineMillis?: number | undefined
  /**
   * After the client went away, how long to wait for the handler to end the response before the scope
   * is disposed anyway (Express does not give middleware the handler's promise). Default 1000.
   */
  abortGraceMillis?: number | undefined
}

/** Options of `poolErrorHandler()`. */
export interface PoolErrorHandlerOptions {
  /** The `Retry-After` header of the 503, in seconds. Default 1. */
  retryAfterSeconds?: number | undefined
}

/** @internal validated options with their defaults */
export interface Settings {
  readonly container: ServiceContainer<any>
  readonly handlerName: string
  readonly operationName: ((req: Request) => string | undefined) | undefined
  readonly header: string
  readonly deadlineMillis: number | undefined
  readonly abortGraceMillis: number
}

const rules = { ...middlewareOptionRules, abortGraceMillis: { type: 'integer', min: 0, optional: true } } as const

/** @internal */
export function settingsFrom(options: LifeguardOptions): Settings {
  if (typeof options === 'object' && options !== null && Object.hasOwn(options, 'mapErrors')) {
    throw new InvalidOptionError(
      'mapErrors',
      'a known option',
      'Invalid options for lifeguard: Express error mapping is a separate error handler. Add `app.use(poolErrorHandler())` after your routes.',
    )
  }
  validateOptions('lifeguard', options, rules)
  return {
    container: options.container,
    handlerName: options.handlerName ?? 'http',
    operationName: options.operationName,
    header: (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    deadlineMillis: options.deadlineMillis,
    abortGraceMillis: options.abortGraceMillis ?? 1000,
  }
}

/** @internal */
export function retryAfterSecondsFrom(options: PoolErrorHandlerOptions | undefined): string {
  validateOptions('poolErrorHandler', options, { retryAfterSeconds: { type: 'integer', min: 0, optional: true } })
  return String(options?.retryAfterSeconds ?? 1)
}
