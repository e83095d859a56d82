import { InvalidOptionError } from '@lifeguard/core'
import { redactError, shownText } from '@lifeguard/core/adapter'
import { MongoClient } from 'mongodb'
import { checkDriverOptions, driverOptions, type ResolvedMongoPoolOptions } from '../options.js'
import { secretsOf } from './target.js'

/**
 * The pool's `MongoClient`, built from checked options. Nothing connects yet.
 *
 * @throws {InvalidOptionError} for a connection string or `clientOptions` the driver refuses (its message
 *   redacted), a driver number out of range (a duration beyond a timer's, `maxConnecting` below 1), or a
 *   database or appName in the connection string that the options of the same name would refuse
 */
export function createClient(options: ResolvedMongoPoolOptions): MongoClient {
  let client: MongoClient
  try {
    client = new MongoClient(options.uri, driverOptions(options))
  } catch (error) {
    // The driver says which of its options it refused, not where it came from: the connection string
    // alone tells whether it is the one to blame.
    const safe = redactError(error, secretsOf(options.uri, undefined, options.clientOptions))
    if (parses(options.uri)) {
      const expected = 'options the MongoDB driver accepts'
      // The driver quotes the value it refused: one that is itself a connection string or `user:password@host`
      // (given to the wrong option) is shown as any such value is.
      throw new InvalidOptionError('clientOptions', expected, `Invalid options for createMongoPool: expected \`clientOptions\` to be ${expected}. The driver says: ${shownText(safe.message)}`)
    }
    const expected = 'a valid MongoDB connection string'
    // The driver quotes pieces of a string it cannot parse: a password written raw (a `@` or `/` in it) is
    // cut into pieces no redaction knows, so its word is passed on only when the user part is delimited.
    const said = delimitedCredentials(options.uri) ? `The driver says: ${safe.message}` : 'A `@`, `/`, `:` or `%` in the user name or password must be percent-encoded.'
    throw new InvalidOptionError('uri', expected, `Invalid options for createMongoPool: expected \`uri\` to be ${expected}. ${said}`)
  }
  checkDriverOptions(client, options)
  return client
}

function parses(uri: string): boolean {
  try {
    new MongoClient(uri)
    return true
  } catch {
    return false
  }
}

// No `@` at all, or one, ending a user part with no `/`, `?` or `#` in it.
function delimitedCredentials(uri: string): boolean {
  return !uri.includes('@') || /^[a-z+]+:\/\/[^/?#@]*@[^@]*$/i.test(uri)
}
