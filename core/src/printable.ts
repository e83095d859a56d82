// What must not reach a log line as it is: the characters a request id or an operation's name may not hold, and
// how a message shows them when it quotes such a value.

/**
 * @internal Control characters, and what a log viewer takes for a line break or a change of direction (a line or
 * paragraph separator, bidi overrides and isolates), or shows as nothing (zero-width characters).
 */
export const unprintable = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

const unprintableEach = new RegExp(unprintable.source, 'g')

/** @internal One character as its `\uXXXX` escape. */
export const escaped = (character: string): string => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`

/** @internal `text` with every `unprintable` character escaped (`\u2028`). */
export function escapeUnprintable(text: string): string {
  return unprintable.test(text) ? text.replace(unprintableEach, escaped) : text
}
