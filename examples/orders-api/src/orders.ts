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

/** A request body that is not a valid `NewOrder`; the message says which field and why. */
export class InvalidOrderError extends Error {
  override readonly name = 'InvalidOrderError'
  readonly code = 'ERR_INVALID_ORDER'
}

/**
 * Checks a request body and returns it as a `NewOrder`.
 *
 * @throws {InvalidOrderError} naming the first bad field
 */
export function parseNewOrder(body: unknown): NewOrder {
  if (typeof body !== 'object' || body === null) throw new InvalidOrderError('Expected a JSON object like {"customer":"ada","items":[{"sku":"tea","quantity":2,"priceCents":450}]}.')
  const { customer, items } = body as Record<string, unknown>
  if (typeof customer !== 'string' || customer.trim() === '' || customer.length > 200) throw new InvalidOrderError('Expected `customer` to be a non-empty string of at most 200 characters.')
  if (!Array.isArray(items) || items.length === 0 || items.length > 100) throw new InvalidOrderError('Expected `items` to be an array of 1 to 100 items.')
  const skus = new Set<string>()
  const parsed = items.map((item: unknown, index): OrderItem => {
    const { sku, quantity, priceCents } = (typeof item === 'object' && item !== null ? item : {}) as Record<string, unknown>
    if (typeof sku !== 'string' || sku.trim() === '' || sku.length > 64) throw new InvalidOrderError(`Expected \`items[${index}].sku\` to be a non-empty string of at most 64 characters.`)
    if (skus.has(sku)) throw new InvalidOrderError(`Expected each sku once; \`items[${index}].sku\` repeats '${sku}'.`)
    skus.add(sku)
    if (!Number.isInteger(quantity) || (quantity as number) < 1 || (quantity as number) > 10_000) throw new InvalidOrderError(`Expected \`items[${index}].quantity\` to be an integer from 1 to 10000.`)
    if (!Number.isInteger(priceCents) || (priceCents as number) < 0 || (priceCents as number) > 100_000_000) throw new InvalidOrderError(`Expected \`items[${index}].priceCents\` to be an integer from 0 to 100000000.`)
    return { sku, quantity: quantity as number, priceCents: priceCents as number }
  })
  return { customer: customer.trim(), items: parsed }
}

/** Parses a `:id` path parameter; `undefined` when it cannot be an order id. */
export function parseOrderId(value: string | undefined): string | undefined {
  return value !== undefined && /^[1-9][0-9]{0,17}$/.test(value) ? value : undefined
}

/** Parses `?limit=`; default 20, at most 100. */
export function parseLimit(value: unknown): number {
  const limit = typeof value === 'string' && /^[0-9]{1,3}$/.test(value) ? Number(value) : 20
  return Math.min(Math.max(limit, 1), 100)
}
