// MongoDB wire framing for the test server: just the three opcodes the 7.x driver uses.
// Reference: https://www.mongodb.com/docs/manual/reference/mongodb-wire-protocol/
import { deserialize, serialize, type Document } from 'bson'

export const OP_REPLY = 1
export const OP_QUERY = 2004
export const OP_MSG = 2013

const HEADER_BYTES = 16
const CHECKSUM_PRESENT = 1 << 0
const MORE_TO_COME = 1 << 1

/** One decoded request: the command document and how to answer it. */
export interface WireRequest {
  readonly requestId: number
  readonly opCode: typeof OP_QUERY | typeof OP_MSG
  /** The command with any kind-1 document sequences merged in as arrays. */
  readonly command: Document
  /** Database from `$db` (OP_MSG) or from `<db>.$cmd` (OP_QUERY). */
  readonly db: string
  /** Set for `w: 0` writes: the client expects no reply at all. */
  readonly moreToCome: boolean
}

/**
 * Splits complete messages off the front of `buffer`.
 * @returns the messages and the unconsumed tail (a partial message, or empty).
 */
export function takeMessages(buffer: Buffer): { messages: Buffer[]; rest: Buffer } {
  const messages: Buffer[] = []
  let offset = 0
  while (buffer.length - offset >= 4) {
    const length = buffer.readInt32LE(offset)
    if (length < HEADER_BYTES) throw new Error(`Invalid wire message length ${length}`)
    if (buffer.length - offset < length) break
    messages.push(buffer.subarray(offset, offset + length))
    offset += length
  }
  return { messages, rest: buffer.subarray(offset) }
}

/**
 * Decodes one complete message.
 * @throws {Error} on an opcode the test server does not speak (OP_COMPRESSED is never negotiated).
 */
export function parseMessage(message: Buffer): WireRequest {
  const requestId = message.readInt32LE(4)
  const opCode = message.readInt32LE(12)
  if (opCode === OP_QUERY) return parseQuery(message, requestId)
  if (opCode === OP_MSG) return parseMsg(message, requestId)
  throw new Error(`Unsupported wire opcode ${opCode}`)
}

function parseQuery(message: Buffer, requestId: number): WireRequest {
  // flags(4) fullCollectionName(cstring) numberToSkip(4) numberToReturn(4) query(doc) [fieldSelector]
  let offset = HEADER_BYTES + 4
  const nameEnd = message.indexOf(0, offset)
  const fullName = message.toString('utf8', offset, nameEnd)
  offset = nameEnd + 1 + 8
  const command = deserialize(message.subarray(offset, offset + message.readInt32LE(offset)))
  return { requestId, opCode: OP_QUERY, command, db: fullName.split('.')[0] ?? '', moreToCome: false }
}

function parseMsg(message: Buffer, requestId: number): WireRequest {
  const flags = message.readUInt32LE(HEADER_BYTES)
  // The CRC-32C trailer is only skipped: the driver never sends one, and loopback does not corrupt.
  const end = flags & CHECKSUM_PRESENT ? message.length - 4 : message.length
  let offset = HEADER_BYTES + 4
  let body: Document | undefined
  const sequences: Record<string, Document[]> = {}
  while (offset < end) {
    const kind = message.readUInt8(offset)
    offset += 1
    const size = message.readInt32LE(offset)
    if (kind === 0) {
      body = deserialize(message.subarray(offset, offset + size))
    } else if (kind === 1) {
      const nameEnd = message.indexOf(0, offset + 4)
      const identifier = message.toString('utf8', offset + 4, nameEnd)
      const documents: Document[] = (sequences[identifier] ??= [])
      for (let at = nameEnd + 1; at < offset + size; at += message.readInt32LE(at)) {
        documents.push(deserialize(message.subarray(at, at + message.readInt32LE(at))))
      }
    } else {
      throw new Error(`Unsupported OP_MSG section kind ${kind}`)
    }
    offset += size
  }
  if (body === undefined) throw new Error('OP_MSG without a body section')
  const command = { ...body, ...sequences }
  const db = typeof body['$db'] === 'string' ? body['$db'] : 'admin'
  return { requestId, opCode: OP_MSG, command, db, moreToCome: (flags & MORE_TO_COME) !== 0 }
}

/** Encodes `reply` in the opcode that matches the request: OP_REPLY for OP_QUERY, else OP_MSG. */
export function encodeReply(request: WireRequest, reply: Document, responseId: number): Buffer {
  const document = serialize(reply)
  const header = Buffer.alloc(HEADER_BYTES)
  let prefix: Buffer
  if (request.opCode === OP_QUERY) {
    // responseFlags(4) cursorID(8) startingFrom(4) numberReturned(4)
    prefix = Buffer.alloc(20)
    prefix.writeInt32LE(1, 16)
    header.writeInt32LE(OP_REPLY, 12)
  } else {
    // flagBits(4), then one kind-0 section
    prefix = Buffer.alloc(5)
    header.writeInt32LE(OP_MSG, 12)
  }
  header.writeInt32LE(HEADER_BYTES + prefix.length + document.length, 0)
  header.writeInt32LE(responseId, 4)
  header.writeInt32LE(request.requestId, 8)
  return Buffer.concat([header, prefix, document])
}
