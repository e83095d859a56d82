import { RequestError } from './problems.js'

/** One line of an order. */
export interface OrderItem {
  sku: string
  quantity: number
  priceCents: number
}

/** An order as the API returns it. */
export interface Order {
  id: string
  customer: string
  items: OrderItem[]
  totalCents: number
  createdAt: string
}

/** What `POST /orders` accepts. */
export interface NewOrder {
  customer: string
  items: OrderItem[]
}

/** A request body that is not a valid `NewOrder` (400 `invalid_order`); the message says which field and why. */
export class InvalidOrderError extends RequestError {
  override readonly name = 'InvalidOrderError'

  constructor(detail: string) {
    super(400, 'invalid_order', detail)
  }
}

// PostgreSQL text cannot hold U+0000, and stores an unpaired surrogate (`"\ud800"`, valid in JSON) as U+FFFD:
// refused here with a clear message instead of a 500 from the database, or a value stored other than it was
// answered (two skus that differ only there collided as one).
const unstorable = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/
const hasUnstorable = (value: string) => unstorable.test(value)
const unstorableRule = 'without NUL characters (\\u0000) or unpaired surrogates (\\ud800 to \\udfff)'

/**
 * Checks a request body and returns it as a `NewOrder`.
 *
 * @throws {InvalidOrderError} naming the first bad field
 */
export function parseNewOrder(body: unknown): NewOrder {
  if (typeof body !== 'object' || body === null) throw new InvalidOrderError('Expected a JSON object like {"customer":"ada","items":[{"sku":"tea","quantity":2,"priceCents":450}]}.')
  const { customer: given, items } = body as Record<string, unknown>
  // Stored trimmed, so measured trimmed: padding does not count against the limit.
  const customer = typeof given === 'string' ? given.trim() : undefined
  if (customer === undefined || customer === '' || customer.length > 200) throw new InvalidOrderError('Expected `customer` to be a non-empty string of at most 200 characters.')
  if (hasUnstorable(customer)) throw new InvalidOrderError(`Expected \`customer\` ${unstorableRule}.`)
  if (!Array.isArray(items) || items.length === 0 || items.length > 100) throw new InvalidOrderError('Expected `items` to be an array of 1 to 100 items.')
  const skus = new Set<string>()
  const parsed = items.map((item: unknown, index): OrderItem => {
    const { sku, quantity, priceCents } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    if (typeof sku !== 'string' || sku.trim() === '' || sku.length > 64) throw new InvalidOrderError(`Expected \`items[${index}].sku\` to be a non-empty string of at most 64 characters.`)
    if (hasUnstorable(sku)) throw new InvalidOrderError(`Expected \`items[${index}].sku\` ${unstorableRule}.`)
    if (skus.has(sku)) throw new InvalidOrderError(`Expected each sku once; \`items[${index}].sku\` repeats '${sku}'.`)
    skus.add(sku)
    if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 10_000) throw new InvalidOrderError(`Expected \`items[${index}].quantity\` to be an integer from 1 to 10000.`)
    if (!Number.isInteger(priceCents) || (priceCents as number) < 0 || (priceCents as number) > 100_000_000) throw new InvalidOrderError(`Expected \`items[${index}].priceCents\` to be an integer from 0 to 100000000.`)
    return { sku, quantity: quantity as number, priceCents: priceCents as number }
  })
  return { customer, items: parsed }
}

const MAX_ORDER_ID = 9223372036854775807n // PostgreSQL bigint

/**
 * Parses a `:id` path parameter: a positive integer that fits PostgreSQL's `bigint`.
 *
 * @throws {RequestError} 400 `invalid_id` for anything else (`abc`, `1.5`, `0`, `-1`, `1e3`)
 */
export function parseOrderId(value: string | undefined): string {
  if (value !== undefined && /^[1-9][0-9]{0,18}$/.test(value) && BigInt(value) <= MAX_ORDER_ID) return value
  throw new RequestError(400, 'invalid_id', `Expected the order id to be an integer from 1 to ${MAX_ORDER_ID}, got ${shown(value)}.`)
}

/** `?limit=` when absent, and its bounds. */
export const LIMIT = { default: 20, min: 1, max: 100 } as const

/**
 * Parses `?limit=`: absent means 20; otherwise an integer from 1 to 100, given once.
 *
 * @throws {RequestError} 400 `invalid_limit` naming the allowed range (never silently clamped)
 */
export function parseLimit(value: string | readonly string[] | undefined): number {
  if (value === undefined) return LIMIT.default
  const single = typeof value === 'string' ? value : value.length === 1 ? value[0] : undefined
  const limit = single !== undefined && /^[0-9]{1,4}$/.test(single) ? Number(single) : Number.NaN
  if (limit >= LIMIT.min && limit <= LIMIT.max) return limit
  const got = single === undefined ? `${value.length} values` : shown(single)
  throw new RequestError(400, 'invalid_limit', `Expected \`limit\` to be an integer from ${LIMIT.min} to ${LIMIT.max}, got ${got}.`)
}

// A request value in a detail: quoted as JSON (so control characters cannot break a log line), and short.
function shown(value: string | undefined): string {
  if (value === undefined) return 'nothing'
  return `\`${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}\``
}
