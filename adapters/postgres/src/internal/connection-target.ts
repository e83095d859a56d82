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
  if (typeof password === 'string') secrets.push(...forms(password))
  if (typeof connectionString === 'string' && connectionString !== '') {
    secrets.push(connectionString)
    secrets.push(...urlPasswords(connectionString))
  }
  let target: string
  try {
    const probe = new pg.Client(config)
    if (typeof probe.password === 'string' && probe.password !== '') secrets.push(...forms(probe.password))
    const host = hosts === undefined ? probe.host : hosts.map((entry) => `${bracketed(entry.host)}:${entry.port ?? probe.port}`).join(',')
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

// An IPv6 address in brackets, as in a URL, so its port can be told from it.
function bracketed(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}

// A password as sent, and as a URL carries it: a server or proxy may quote either.
function forms(password: string): string[] {
  const encoded = encodeURIComponent(password)
  return encoded === password ? [password] : [password, encoded]
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

// How many passwords a `password` function returned are kept for redaction: a rotation makes one more now
// and then; a function that made a new one per connection would otherwise grow the list for good.
const maxRememberedPasswords = 16

/**
 * The config with its `password` function (rotating credentials) wrapped so that every password it returns
 * joins `secrets` before pg sends it: a server or proxy that quotes it in an error is then redacted, as a
 * password given as a string is.
 */
export function rememberingPasswords(config: pg.ClientConfig, secrets: string[]): pg.ClientConfig {
  const password = config.password
  if (typeof password !== 'function') return config
  const remembered: string[][] = []
  const remember = (value: string): string => {
    if (typeof value === 'string' && value !== '' && !secrets.includes(value)) {
      const added = forms(value).filter((form) => !secrets.includes(form))
      secrets.push(...added)
      remembered.push(added)
      if (remembered.length > maxRememberedPasswords) {
        for (const form of remembered.shift() as string[]) secrets.splice(secrets.indexOf(form), 1)
      }
    }
    return value
  }
  return {
    ...config,
    password: () => {
      const value = password()
      return typeof value === 'string' ? remember(value) : Promise.resolve(value).then(remember)
    },
  }
}
