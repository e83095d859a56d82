import type { PostgresHandle } from '@lifeguard/postgres'
import type { NewOrder, Order, OrderItem } from './orders.js'

interface OrderRow {
  id: string
  customer: string
  total_cents: string
  created_at: Date
  items: Array<{ sku: string; quantity: number; price_cents: number }> | null
}

/**
 * Orders in PostgreSQL, through one operation's `PostgresHandle`: created per request (a scoped
 * service), so every query it runs belongs to that request and is given back when the request ends.
 */
export class OrdersRepository {
  readonly #db: PostgresHandle
  readonly #orders: string
  readonly #items: string

  /** @param schema - the tables live in this schema (created by `migrate`) */
  constructor(db: PostgresHandle, schema: string) {
    this.#db = db
    this.#orders = `${quote(schema)}.orders`
    this.#items = `${quote(schema)}.order_items`
  }

  /** Creates the schema and tables when missing. */
  static async migrate(db: PostgresHandle, schema: string): Promise<void> {
    const s = quote(schema)
    await db.transaction(async (tx) => {
      // Two instances starting together must not race on CREATE ... IF NOT EXISTS.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`orders-api:migrate:${schema}`])
      await tx.query(`CREATE SCHEMA IF NOT EXISTS ${s}`)
      await tx.query(`CREATE TABLE IF NOT EXISTS ${s}.orders (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        customer text NOT NULL,
        total_cents bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`)
      await tx.query(`CREATE TABLE IF NOT EXISTS ${s}.order_items (
        order_id bigint NOT NULL REFERENCES ${s}.orders (id) ON DELETE CASCADE,
        sku text NOT NULL,
        quantity integer NOT NULL CHECK (quantity > 0),
        price_cents bigint NOT NULL CHECK (price_cents >= 0),
        PRIMARY KEY (order_id, sku)
      )`)
    })
  }

  /** Inserts the order and its items in one transaction. */
  async create(order: NewOrder): Promise<Order> {
    const totalCents = order.items.reduce((sum, item) => sum + item.quantity * item.priceCents, 0)
    return this.#db.transaction(async (tx) => {
      const { rows } = await tx.query<{ id: string; created_at: Date }>(
        `INSERT INTO ${this.#orders} (customer, total_cents) VALUES ($1, $2) RETURNING id, created_at`,
        [order.customer, totalCents],
      )
      const created = rows[0] as { id: string; created_at: Date }
      await tx.query(
        `INSERT INTO ${this.#items} (order_id, sku, quantity, price_cents)
         SELECT $1, * FROM unnest($2::text[], $3::int[], $4::bigint[])`,
        [created.id, order.items.map((i) => i.sku), order.items.map((i) => i.quantity), order.items.map((i) => i.priceCents)],
      )
      return { id: created.id, customer: order.customer, items: order.items, totalCents, createdAt: created.created_at.toISOString() }
    })
  }

  /** The order with this id, or `undefined`. */
  async find(id: string): Promise<Order | undefined> {
    const { rows } = await this.#db.query<OrderRow>(`${this.#select()} WHERE o.id = $1 GROUP BY o.id`, [id])
    return rows[0] === undefined ? undefined : toOrder(rows[0])
  }

  /** The most recent orders, newest first. */
  async list(limit: number): Promise<Order[]> {
    const { rows } = await this.#db.query<OrderRow>(`${this.#select()} GROUP BY o.id ORDER BY o.id DESC LIMIT $1`, [limit])
    return rows.map(toOrder)
  }

  #select(): string {
    return `SELECT o.id, o.customer, o.total_cents, o.created_at,
      json_agg(json_build_object('sku', i.sku, 'quantity', i.quantity, 'price_cents', i.price_cents) ORDER BY i.sku)
        FILTER (WHERE i.sku IS NOT NULL) AS items
      FROM ${this.#orders} o LEFT JOIN ${this.#items} i ON i.order_id = o.id`
  }
}

function toOrder(row: OrderRow): Order {
  const items: OrderItem[] = (row.items ?? []).map((i) => ({ sku: i.sku, quantity: i.quantity, priceCents: Number(i.price_cents) }))
  return { id: row.id, customer: row.customer, items, totalCents: Number(row.total_cents), createdAt: row.created_at.toISOString() }
}

function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}
