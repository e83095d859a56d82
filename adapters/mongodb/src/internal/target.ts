import type { MongoClient, MongoClientOptions } from 'mongodb'

/**
 * `mongodb://user@host:port/db` from the driver's parsed options: no password, no query string (which may
 * carry `authMechanismProperties`, `tlsCertificateKeyFilePassword`, proxy credentials, ...).
 */
export function describeTarget(client: MongoClient, dbName: string): string {
  const options = client.options
  const user = options.credentials?.username ? `${encodeURIComponent(options.credentials.username)}@` : ''
  const scheme = options.srvHost === undefined ? 'mongodb' : 'mongodb+srv'
  const hosts = options.srvHost ?? options.hosts.map((host) => host.toString()).join(',')
  return `${scheme}://${user}${hosts}/${dbName}`
}

/** Every string that must never appear in an error, event or metric of this pool. */
export function secretsOf(uri: string, client: MongoClient | undefined, clientOptions: MongoClientOptions): string[] {
  const secrets = [uri]
  const add = (value: unknown) => {
    if (typeof value === 'string' && value.length > 0) secrets.push(value, encodeURIComponent(value))
  }
  add(client?.options.credentials?.password)
  add(client?.options.proxyPassword)
  add(clientOptions.auth?.password)
  add(clientOptions.proxyPassword)
  add(clientOptions.tlsCertificateKeyFilePassword)
  // Parsed from the URI (`tlsCertificateKeyFilePassword=`), the driver keeps it as the TLS `passphrase`.
  add((client?.options as { passphrase?: unknown } | undefined)?.passphrase)
  // A password may also be written percent-encoded in the URI; the parsed one above is decoded.
  const inline = /^[a-z+]+:\/\/[^:/@]*:([^@]*)@/i.exec(uri)?.[1]
  add(inline)
  return [...new Set(secrets)]
}
