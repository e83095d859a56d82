import { IncomingMessage } from 'node:http'
import { RegistrationError, type OperationContext } from '@lifeguard/core'

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
 * Makes `req.lifeguard` readable on this request's prototypes, before the request gets a context (and a scope
 * to give back). Express swaps every request's prototype for its app's, which leaves each request object with a
 * hidden class of its own: adding a property to one costs V8 a new hidden class per request. So the context
 * lives in a WeakMap, and `lifeguard` is an accessor on Express's base request prototype, installed once.
 *
 * @throws {RegistrationError} when a prototype of the request already has a `lifeguard` value of its own
 */
export function prepareRequest(req: object): void {
  const proto = Object.getPrototypeOf(req) as object | null
  if (proto !== null && !patched.has(proto)) install(proto)
}

/** Attaches the context to a request `prepareRequest()` has seen, where `req.lifeguard` finds it. */
export function attachContext(req: object, context: OperationContext): void {
  contexts.set(req, context)
}

/** The context attached to this request, if any. */
export function contextOf(req: object): OperationContext | undefined {
  return contexts.get(req)
}

// Installs the accessor on the highest prototype below `IncomingMessage.prototype` (Express's own request
// prototype, shared by every app and sub-app), or on `proto` itself for anything else. Marked as done only once
// it is: a prototype that refused it refuses every request the same way, never hands out its own value.
function install(proto: object): void {
  let target = proto
  refuseValue(target)
  for (let above = Object.getPrototypeOf(target) as object | null; above !== null && above !== IncomingMessage.prototype; above = Object.getPrototypeOf(above) as object | null) {
    target = above
    refuseValue(target)
  }
  if (Object.getPrototypeOf(target) !== IncomingMessage.prototype) target = proto
  // An accessor already there comes from another copy of this package, reading the same map.
  if (!Object.hasOwn(target, 'lifeguard')) Object.defineProperty(target, 'lifeguard', descriptor)
  patched.add(proto)
}

// A value of `lifeguard` on the way (set by the app or another library) would hide the context from every handler.
function refuseValue(proto: object): void {
  const existing = Object.getOwnPropertyDescriptor(proto, 'lifeguard')
  if (existing !== undefined && existing.get === undefined) {
    throw new RegistrationError(
      "Could not install 'req.lifeguard'. A request prototype of this app already has a `lifeguard` value of its own (set on `app.request` or `express.request`?), which would hide the request's context: remove it or rename it.",
    )
  }
}
