import type { Attributes } from '@opentelemetry/api'
import type { OperationContext } from '@lifeguard/core'
import { attributeNames } from '../semantic-conventions.js'

// Bounds the cache if an application puts raw paths in operation names (the SDK bounds its own streams).
const maxCached = 1000
// The key of a statement whose kind the adapter did not name.
const unnamed = ''

type ByStatement = Map<string, Attributes>

/**
 * The attribute sets of one pool's `db.client.operation.duration`, built once per combination of route
 * (`lifeguard.operation.handler` and `.name`), statement kind (`db.operation.name`) and failure
 * (`error.type`), so recording a sample allocates nothing. The request id is left out on purpose: it is
 * unique per request.
 */
export class QueryAttributes {
  readonly #base: Attributes
  // handler -> operation -> statement kind -> attributes.
  readonly #byRoute = new Map<string, Map<string, ByStatement>>()
  // Statements outside any operation: statement kind -> attributes.
  readonly #outside: ByStatement = new Map()
  // A success's attributes -> error type and status code -> the failure's attributes.
  readonly #failures = new Map<Attributes, Map<string, Attributes>>()
  #cached = 0

  /** @param base - the attributes every sample of the pool has (pool name, `db.system.name`) */
  constructor(base: Attributes) {
    this.#base = base
  }

  /** The attributes of a statement of kind `operation` run by `context`, failed with `error` if given. */
  of(context: OperationContext | undefined, operation: string | undefined, error: Error | undefined): Attributes {
    const success = this.#success(context, operation)
    return error === undefined ? success : this.#failure(success, errorType(error), responseStatusCode(error))
  }

  #success(context: OperationContext | undefined, operation: string | undefined): Attributes {
    let byStatement: ByStatement | undefined
    if (context === undefined) byStatement = this.#outside
    else {
      let byOperation = this.#byRoute.get(context.handler)
      byStatement = byOperation?.get(context.operation)
      if (byStatement === undefined && this.#cached < maxCached) {
        if (byOperation === undefined) this.#byRoute.set(context.handler, (byOperation = new Map()))
        byOperation.set(context.operation, (byStatement = new Map()))
      }
    }
    const key = operation ?? unnamed
    const found = byStatement?.get(key)
    if (found !== undefined) return found
    const built: Attributes = { ...this.#base }
    if (context !== undefined) {
      built[attributeNames.operationHandler] = context.handler
      built[attributeNames.operationName] = context.operation
    }
    if (operation !== undefined) built[attributeNames.dbOperationName] = operation
    if (byStatement !== undefined && this.#cached < maxCached) {
      byStatement.set(key, built)
      this.#cached++
    }
    return built
  }

  // An adapter's error may carry the server's code in its cause (a read-only refusal wraps 25006), so one
  // `type` may come with several status codes, or none.
  #failure(success: Attributes, type: string, status: string | undefined): Attributes {
    const key = status === undefined ? type : `${type}\0${status}`
    let byType = this.#failures.get(success)
    const found = byType?.get(key)
    if (found !== undefined) return found
    const built: Attributes = { ...success, [attributeNames.errorType]: type }
    if (status !== undefined) built[attributeNames.responseStatusCode] = status
    if (this.#cached < maxCached) {
      if (byType === undefined) this.#failures.set(success, (byType = new Map()))
      byType.set(key, built)
      this.#cached++
    }
    return built
  }
}

/**
 * The conventions' `error.type`: a low-cardinality name of the failure. Database errors carry a code (a
 * PostgreSQL SQLSTATE, a MongoDB server code), Lifeguard's and Node's errors a `code` too; anything else is
 * named by its class. Never the message, which may quote data.
 */
export function errorType(error: Error): string {
  const code = (error as { code?: unknown }).code
  if (typeof code === 'string' && code.length > 0 && code.length <= 64) return code
  if (typeof code === 'number' && Number.isInteger(code)) return String(code)
  return error.name || '_OTHER'
}

/**
 * The conventions' `db.response.status_code`: the code the server answered a failed statement with. A
 * PostgreSQL error from the server (pg's `DatabaseError`, which has a `severity`) carries a five-character
 * SQLSTATE; a MongoDB server error a numeric code. Lifeguard's, Node's and the drivers' own errors have none.
 */
export function responseStatusCode(error: Error): string | undefined {
  // An adapter's own error may wrap the server's answer (a read-only refusal wraps its 25006).
  return serverCode(error) ?? serverCode((error as { cause?: unknown }).cause)
}

function serverCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const { code, severity } = error as { code?: unknown; severity?: unknown }
  if (typeof code === 'number' && Number.isInteger(code)) return String(code)
  if (typeof code === 'string' && typeof severity === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
  return undefined
}
