import { InvalidOptionError } from '@lifeguard/core'
import type { OptionRule } from '@lifeguard/core/adapter'

const listenerKeys = ['onConnect', 'onDisconnect', 'onError', 'onPoolCreated', 'onAcquire', 'onRelease', 'onResize', 'onLeak', 'onTimeout']

/**
 * The `events` option: an object of known `on*` listeners (functions), or an array of such objects.
 * A typo (`onErorr`) or a non-function is refused naming the key, rather than never being called.
 */
export const eventsRule: OptionRule = {
  type: 'custom',
  expected: 'an object of listeners or an array of them',
  optional: true,
  check: (value) => {
    const sets = Array.isArray(value) ? value : [value]
    for (const [index, set] of sets.entries()) {
      if (typeof set !== 'object' || set === null || Array.isArray(set)) return false
      const path = Array.isArray(value) ? `events[${index}]` : 'events'
      for (const [key, listener] of Object.entries(set as object)) {
        if (!listenerKeys.includes(key)) {
          throw new InvalidOptionError(`${path}.${key}`, 'a known listener', `Invalid options for createPostgresPool: unknown listener \`${path}.${key}\`. Known listeners: ${listenerKeys.map((k) => `\`${k}\``).join(', ')}.`)
        }
        if (listener !== undefined && typeof listener !== 'function') {
          throw new InvalidOptionError(`${path}.${key}`, 'a function', `Invalid options for createPostgresPool: expected \`${path}.${key}\` to be a function, got a ${typeof listener}.`)
        }
      }
    }
    return true
  },
}
