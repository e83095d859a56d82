import type { Clock } from '@lifeguard/core'
import type { MongoClient } from 'mongodb'
import type { Gate } from './gate.js'

/** What a lease or a handle needs from its pool (kept apart so they do not import the pool). */
export interface PoolAccess {
  readonly name: string
  readonly dbName: string
  readonly client: MongoClient
  readonly gate: Gate
  /** The pool's clock, for the short waits of clean-up. */
  readonly clock: Clock
}
