import { connect } from 'node:net'

/** A JSON request; resolves with the status, headers and parsed body. */
export async function request<T = any>(url: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; headers: Headers; body: T }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body), headers: { 'content-type': 'application/json' } }),
  })
  const text = await response.text()
  let body: unknown = text
  if ((response.headers.get('content-type') ?? '').includes('json')) body = JSON.parse(text)
  return { status: response.status, headers: response.headers, body: body as T }
}

/** True when a TCP connection to `url`'s host and port is refused (nothing listens there any more). */
export function isRefused(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) })
    socket.once('connect', () => {
      socket.destroy()
      resolve(false)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'))
  })
}

/** Polls `check` every 25ms until it returns true or `timeoutMillis` passes; returns its last answer. */
export async function eventually(check: () => Promise<boolean>, timeoutMillis = 5_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMillis
  for (;;) {
    if (await check()) return true
    if (Date.now() >= deadline) return false
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

/** A valid `POST /orders` body. */
export const sampleOrder = {
  customer: 'ada',
  items: [
    { sku: 'tea', quantity: 2, priceCents: 450 },
    { sku: 'cake', quantity: 1, priceCents: 300 },
  ],
}
