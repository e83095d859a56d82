// What must not reach a log line as it is: the characters a request id or an operation's name may not hold, and
// how a message shows them when it quotes such a value.

/**
 * @internal Control characters, and what a log viewer takes for a line break or a change of direction (a line or
 * paragraph separator, bidi marks, overrides and isolates), or shows as nothing (zero-width characters).
 */
export const unprintable = /[\u0000-\u001f\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/**
 * @internal `unprintable` but for the zero-width non-joiner and joiner (U+200C, U+200D), which are part of how Persian
 * and Indic words are spelled, and of emoji: for names (a pool's), where nothing else of the set may pass.
 */
export const unprintableInName = /[\u0000-\u001f\u007f-\u009f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]/

/** @internal Half of a surrogate pair without its other half: no character (encoders make it U+FFFD or refuse it). */
export const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

const unprintableEach = new RegExp(unprintable.source, 'g')
const loneSurrogateEach = new RegExp(loneSurrogate.source, 'g')

/** @internal One character as its `\uXXXX` escape. */
const escaped = (character: string): string => `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`

/** @internal `text` with every `unprintable` character and lone surrogate escaped (`\u2028`). */
export function escapeUnprintable(text: string): string {
  const shown = unprintable.test(text) ? text.replace(unprintableEach, escaped) : text
  return loneSurrogate.test(shown) ? shown.replace(loneSurrogateEach, escaped) : shown
}
