import { formatTarget, redactConnectionString } from '@lifeguard/core/adapter'
import pg from 'pg'
import type { PostgresHost } from '../options.js'

/** Where a pool connects, safe to show, and the strings that must never be shown. */
export interface ConnectionTarget {
  /** `postgres://user@host:port/database`, no password. */
  target: string
  /** Passwords and connection strings, to scrub from every error. */
  secrets: string[]
}

/**
 * Resolves the target exactly as pg will (connection string over fields over `PG*` variables over
 * defaults) by letting pg parse the config into a client that never connects. Several `hosts` show as
 * libpq writes them: `postgres://user@db1:5432,db2:5432/database`.
 */
export function connectionTarget(config: pg.ClientConfig, hosts?: readonly PostgresHost[]): ConnectionTarget {
  const secrets: string[] = []
  const { connectionString, password } = config
  if (typeof password === 'string') secrets.push(password)
  if (typeof connectionString === 'string' && connectionString !== '') {
    secrets.push(connectionString)
    secrets.push(...urlPasswords(connectionString))
  }
  let target: string
  try {
    const probe = new pg.Client(config)
    if (typeof probe.password === 'string' && probe.password !== '') secrets.push(probe.password)
    const host = hosts === undefined ? probe.host : hosts.map((entry) => `${entry.host}:${entry.port ?? probe.port}`).join(',')
    target = formatTarget({ protocol: 'postgres', user: probe.user, host, port: hosts === undefined ? probe.port : undefined, database: probe.database })
  } catch {
    // pg could not parse it; show what is safe of the string itself.
    target = connectionString === undefined ? 'postgres://<invalid>' : redactConnectionString(connectionString)
  }
  return { target, secrets: [...new Set(secrets)] }
}

// The password as written in the URL (percent-encoded) and as sent (decoded), plus a `password=` parameter.
function urlPasswords(connectionString: string): string[] {
  try {
    const url = new URL(connectionString)
    const found = [url.password, safeDecode(url.password), url.searchParams.get('password') ?? '']
    return found.filter((secret) => secret !== '')
  } catch {
    const match = /(?:^|\s)password=(\S+)/.exec(connectionString)
    return match?.[1] === undefined ? [] : [match[1]]
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}
