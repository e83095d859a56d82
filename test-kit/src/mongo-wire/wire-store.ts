// In-memory collections for the wire test server, with the small query and update language the tests use.
// Anything outside it fails loudly (BadValue) instead of silently matching the wrong documents.
import { deserialize, ObjectId, serialize, type Document } from 'bson'

/** A command failure that becomes `{ ok: 0, code, codeName, errmsg }` on the wire. */
export class CommandError extends Error {
  constructor(
    readonly code: number,
    readonly codeName: string,
    message: string,
  ) {
    super(message)
  }
}

/** Undo entries for one open transaction: `[namespace, idKey, document before the write]`. */
export type UndoLog = Array<[string, string, Document | undefined]>

const badValue = (message: string) => new CommandError(2, 'BadValue', message)

/** Byte-equality of BSON encodings: exact for ObjectId, Date, nested documents and numbers alike. */
function encode(value: unknown): string {
  return Buffer.from(serialize({ v: value })).toString('hex')
}
export function sameValue(a: unknown, b: unknown): boolean {
  return encode(a) === encode(b)
}

/** Deep copy through BSON, so ObjectId, Binary and Date keep their classes (structuredClone would not). */
export function clone(doc: Document): Document {
  return deserialize(serialize(doc))
}

function getPath(doc: Document, path: string): unknown {
  let value: unknown = doc
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined
    value = (value as Document)[part]
  }
  return value
}

function setPath(doc: Document, path: string, value: unknown): void {
  const parts = path.split('.')
  const last = parts.pop() as string
  let target = doc
  for (const part of parts) target = (target[part] ??= {}) as Document
  if (value === undefined) delete target[last]
  else target[last] = value
}

/** Orders numbers, strings, dates and booleans; enough for `sort` and range operators in tests. */
export function compareValues(a: unknown, b: unknown): number {
  const rank = (v: unknown) => (v == null ? 0 : typeof v === 'number' ? 1 : typeof v === 'string' ? 2 : 3)
  if (rank(a) !== rank(b)) return rank(a) - rank(b)
  const x = a instanceof Date ? a.getTime() : (a as number)
  const y = b instanceof Date ? b.getTime() : (b as number)
  return x < y ? -1 : x > y ? 1 : 0
}

function isOperatorObject(value: unknown): value is Document {
  if (value === null || typeof value !== 'object' || Array.isArray(value) || '_bsontype' in value) return false
  const keys = Object.keys(value)
  return keys.length > 0 && keys.every((k) => k.startsWith('$'))
}

function matchesValue(value: unknown, expected: unknown): boolean {
  if (sameValue(value, expected)) return true
  return Array.isArray(value) && value.some((item) => sameValue(item, expected))
}

function matchesOperator(value: unknown, op: string, arg: unknown): boolean {
  switch (op) {
    case '$eq': return matchesValue(value, arg)
    case '$ne': return !matchesValue(value, arg)
    case '$in': return (arg as unknown[]).some((a) => matchesValue(value, a))
    case '$nin': return !(arg as unknown[]).some((a) => matchesValue(value, a))
    case '$gt': return value != null && compareValues(value, arg) > 0
    case '$gte': return value != null && compareValues(value, arg) >= 0
    case '$lt': return value != null && compareValues(value, arg) < 0
    case '$lte': return value != null && compareValues(value, arg) <= 0
    case '$exists': return (value !== undefined) === Boolean(arg)
    default: throw badValue(`unsupported query operator ${op} in the wire test server`)
  }
}

/** Equality (also into arrays), `$eq $ne $in $nin $gt $gte $lt $lte $exists`, `$and`, `$or`, dotted paths. */
export function matches(doc: Document, filter: Document = {}): boolean {
  return Object.entries(filter).every(([key, condition]) => {
    if (key === '$and') return (condition as Document[]).every((f) => matches(doc, f))
    if (key === '$or') return (condition as Document[]).some((f) => matches(doc, f))
    if (key.startsWith('$')) throw badValue(`unsupported query operator ${key} in the wire test server`)
    const value = getPath(doc, key)
    if (!isOperatorObject(condition)) return matchesValue(value, condition)
    return Object.entries(condition).every(([op, arg]) => matchesOperator(value, op, arg))
  })
}

/** Applies a replacement or `$set $unset $inc $setOnInsert` to a copy of `doc`. */
export function applyUpdate(doc: Document, update: Document, inserting: boolean): Document {
  if (Array.isArray(update)) throw badValue('pipeline updates are not supported by the wire test server')
  const keys = Object.keys(update)
  if (!keys.some((k) => k.startsWith('$'))) return doc['_id'] === undefined ? { ...update } : { _id: doc['_id'], ...update }
  const next = clone(doc)
  for (const [op, fields] of Object.entries(update as Record<string, Document>)) {
    for (const [path, value] of Object.entries(fields)) {
      if (op === '$set') setPath(next, path, value)
      else if (op === '$unset') setPath(next, path, undefined)
      else if (op === '$inc') setPath(next, path, ((getPath(next, path) as number | undefined) ?? 0) + (value as number))
      else if (op === '$setOnInsert') { if (inserting) setPath(next, path, value) }
      else throw badValue(`unsupported update operator ${op} in the wire test server`)
    }
  }
  return next
}

/** Sorts by a `{ field: 1 | -1 }` specification. */
export function sortDocuments(docs: Document[], sort: Document | undefined): Document[] {
  if (sort === undefined) return docs
  const keys = Object.entries(sort)
  return [...docs].sort((a, b) => {
    for (const [path, direction] of keys) {
      const order = compareValues(getPath(a, path), getPath(b, path))
      if (order !== 0) return direction === -1 ? -order : order
    }
    return 0
  })
}

/** Collections keyed by `db.collection`; each keeps documents in insertion order by encoded `_id`. */
export class WireStore {
  readonly #collections = new Map<string, Map<string, Document>>()

  /** Copies of the documents of `db.collection` in natural order. */
  documents(namespace: string): Document[] {
    return [...(this.#collections.get(namespace)?.values() ?? [])].map((d) => clone(d))
  }

  namespaces(): string[] {
    return [...this.#collections.keys()]
  }

  find(namespace: string, filter: Document | undefined): Document[] {
    return this.documents(namespace).filter((doc) => matches(doc, filter))
  }

  /** @throws {CommandError} code 11000 when the `_id` exists. */
  insert(namespace: string, doc: Document, undo?: UndoLog): Document {
    const stored = '_id' in doc ? clone(doc) : { _id: new ObjectId(), ...clone(doc) }
    const key = encode(stored['_id'])
    const collection = this.#collection(namespace)
    if (collection.has(key)) {
      throw new CommandError(11000, 'DuplicateKey', `E11000 duplicate key error collection: ${namespace} index: _id_`)
    }
    undo?.push([namespace, key, undefined])
    collection.set(key, stored)
    return stored
  }

  /** Replaces (or with `undefined` removes) the stored document with the `_id` of `doc`. */
  replace(namespace: string, doc: Document, next: Document | undefined, undo?: UndoLog): void {
    const key = encode(doc['_id'])
    const collection = this.#collection(namespace)
    undo?.push([namespace, key, collection.get(key)])
    if (next === undefined) collection.delete(key)
    else collection.set(key, clone(next))
  }

  /** Rolls back the writes of an aborted transaction, newest first. */
  undo(log: UndoLog): void {
    for (const [namespace, key, before] of log.reverse()) {
      if (before === undefined) this.#collection(namespace).delete(key)
      else this.#collection(namespace).set(key, before)
    }
  }

  dropCollection(namespace: string): boolean {
    return this.#collections.delete(namespace)
  }

  dropDatabase(db: string): void {
    for (const namespace of this.namespaces()) if (namespace.startsWith(`${db}.`)) this.#collections.delete(namespace)
  }

  create(namespace: string): void {
    this.#collection(namespace)
  }

  #collection(namespace: string): Map<string, Document> {
    let collection = this.#collections.get(namespace)
    if (collection === undefined) this.#collections.set(namespace, (collection = new Map()))
    return collection
  }
}
