import { IncomingMessage } from 'node:http'
import type { OperationContext } from '@lifeguard/core'

// The context of each request, by request object: one map per process, even when two copies of this
// package are installed, since both install the same accessor.
const key = Symbol.for('lifeguard.express.request-contexts')
const holder = globalThis as typeof globalThis & { [key]?: WeakMap<object, OperationContext> }
const contexts: WeakMap<object, OperationContext> = (holder[key] ??= new WeakMap())
const patched = new WeakSet<object>()

const descriptor: PropertyDescriptor = {
  configurable: true,
  enumerable: false,
  get(this: object): OperationContext | undefined {
    return contexts.get(this)
  },
  set(this: object, context: OperationContext) {
    contexts.set(this, context)
  },
}

/**
 * Attaches the context to the request, where `req.lifeguard` finds it. Express swaps every request's
 * prototype for its app's, which leaves each request object with a hidden class of its own: adding a
 * property to one costs V8 a new hidden class per request. So the context lives in a WeakMap, and
 * `lifeguard` is an accessor on Express's base request prototype, installed once.
 */
export function attachContext(req: object, context: OperationContext): void {
  const proto = Object.getPrototypeOf(req) as object | null
  if (proto !== null && !patched.has(proto)) install(proto)
  contexts.set(req, context)
}

/** The context attached to this request, if any. */
export function contextOf(req: object): OperationContext | undefined {
  return contexts.get(req)
}

// Installs the accessor on the highest prototype below `IncomingMessage.prototype` (Express's own request
// prototype, shared by every app and sub-app), or on `proto` itself for anything else.
function install(proto: object): void {
  patched.add(proto)
  let target = proto
  for (let above = Object.getPrototypeOf(target) as object | null; above !== null && above !== IncomingMessage.prototype; above = Object.getPrototypeOf(above) as object | null) {
    target = above
  }
  if (Object.getPrototypeOf(target) !== IncomingMessage.prototype) target = proto
  const existing = Object.getOwnPropertyDescriptor(target, 'lifeguard')
  // An accessor already there comes from another copy of this package, reading the same map.
  if (existing === undefined) Object.defineProperty(target, 'lifeguard', descriptor)
  else if (existing.get === undefined) throw new TypeError("Could not install `req.lifeguard`. Express's request prototype already has a `lifeguard` value.")
}
