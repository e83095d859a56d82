import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { InvalidOrderError, parseNewOrder } from '../src/orders.js'

const Orders = suite('parseNewOrder')
const items = [{ sku: 'tea', quantity: 2, priceCents: 450 }]

Orders('a customer is measured as stored, trimmed: padding does not count against the 200 characters', () => {
  const name = 'a'.repeat(200)
  assert.is(parseNewOrder({ customer: `  ${name}\n`, items }).customer, name)
  assert.throws(() => parseNewOrder({ customer: ` ${name}b `, items }), (error: unknown) => error instanceof InvalidOrderError && /at most 200 characters/.test(error.message))
})

Orders('a customer of blanks only, or not a string, is refused by name', () => {
  for (const customer of ['   ', '', 42, undefined, null]) {
    assert.throws(() => parseNewOrder({ customer, items }), (error: unknown) => error instanceof InvalidOrderError && /`customer`/.test(error.message), String(customer))
  }
})

Orders.run()
