import { type ServiceContainer } from '@lifeguard/core'
import { validateOptions } from '@lifeguard/core/adapter'
import { mapErrorsRule, middlewareOptionRules, retryAfterFrom } from '@lifeguard/core/http'
import type { ParameterizedContext } from 'koa'

/** Options of the 503 answer to pool pressure. */
export interface MapErrorsOptions {
  /** The `Retry-After` header of the 503, in seconds. Default 1. */
  retryAfterSeconds?: number | undefined
}

/** Options of `lifeguard()`. */
export interface LifeguardOptions {
  /** The service container; every request gets its own scope from it. */
  container: ServiceContainer<any>
  /** The context's `handler`, e.g. the service's name. Default `'http'`. */
  handlerName?: string | undefined
  /**
   * Names the operation from the request; return `undefined` to keep the default `METHOD route-pattern`
   * (`GET /orders/:id` from `@koa/router`, or `METHOD path` when no route matched). Keep names low-cardinality.
   */
  operationName?: ((ctx: ParameterizedContext) => string | undefined) | undefined
  /** Header that carries the request id in and out. Default `'x-request-id'`. */
  requestIdHeader?: string | undefined
  /** Abort the context's `signal` this many ms after the request arrives. */
  deadlineMillis?: number | undefined
  /**
   * Answer pool pressure (`PoolExhaustedError`, `PoolTimeoutError`, also as an error's `cause`) with
   * `503 Service Unavailable` and `Retry-After` instead of passing the error to Koa. Default `false`.
   */
  mapErrors?: boolean | MapErrorsOptions | undefined
}

/** @internal validated options with their defaults */
export interface Settings {
  readonly container: ServiceContainer<any>
  readonly handlerName: string
  readonly operationName: ((ctx: ParameterizedContext) => string | undefined) | undefined
  readonly header: string
  readonly deadlineMillis: number | undefined
  /** The `Retry-After` value, or `undefined` when errors are not mapped. */
  readonly retryAfter: string | undefined
}

const rules = { ...middlewareOptionRules, mapErrors: mapErrorsRule } as const

/** @internal */
export function settingsFrom(options: LifeguardOptions): Settings {
  validateOptions('lifeguard', options, rules)
  const { mapErrors } = options
  return {
    container: options.container,
    handlerName: options.handlerName ?? 'http',
    operationName: options.operationName,
    header: (options.requestIdHeader ?? 'x-request-id').toLowerCase(),
    deadlineMillis: options.deadlineMillis,
    retryAfter: retryAfterFrom(mapErrors),
  }
}
