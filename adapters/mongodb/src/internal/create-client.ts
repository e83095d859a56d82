import { InvalidOptionError } from '@lifeguard/core'
import { redactError } from '@lifeguard/core/adapter'
import { MongoClient } from 'mongodb'
import { checkDriverDurations, driverOptions, type ResolvedMongoPoolOptions } from '../options.js'
import { secretsOf } from './target.js'

/**
 * The pool's `MongoClient`, built from checked options. Nothing connects yet.
 *
 * @throws {InvalidOptionError} for a connection string the driver cannot parse (its message redacted), or a
 *   driver duration out of a timer's range
 */
export function createClient(options: ResolvedMongoPoolOptions): MongoClient {
  let client: MongoClient
  try {
    client = new MongoClient(options.uri, driverOptions(options))
  } catch (error) {
    const safe = redactError(error, secretsOf(options.uri, undefined, options.clientOptions))
    const expected = 'a valid MongoDB connection string'
    throw new InvalidOptionError('uri', expected, `Invalid options for createMongoPool: expected \`uri\` to be ${expected}. The driver says: ${safe.message}`)
  }
  checkDriverDurations(client)
  return client
}
