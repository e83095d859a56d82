// The service the HTTP benchmark servers answer with: one scoped repository reading one singleton.
import { createServiceContainer } from '@lifeguard/core'

export interface Config {
  readonly region: string
}

/** The scoped service: what a request-scoped repository looks like, minus the database. */
export class OrdersRepo {
  readonly #config: Config
  constructor(config: Config) {
    this.#config = config
  }
  find(id: string): { id: string; status: string; region: string } {
    return { id, status: 'paid', region: this.#config.region }
  }
}

export const config: Config = { region: 'eu-west-1' }

/** The same answer without any container: what the `bare` and `als-only` variants send. */
export const bareOrder = (id: string) => ({ id, status: 'paid', region: config.region })

/** A Lifeguard container with `config` (singleton) and `orders` (scoped). */
export function lifeguardContainer() {
  return createServiceContainer()
    .singleton('config', () => config)
    .scoped('orders', (r) => new OrdersRepo(r.resolve('config') as Config))
}
