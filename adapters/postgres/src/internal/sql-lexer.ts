// The words, strings, quoted identifiers and comments of PostgreSQL's SQL, as far as telling statements apart
// needs them: each function reads a text in place from an index and returns the index past what it read.

const TAB = 0x09
const NEWLINE = 0x0a
const VERTICAL_TAB = 0x0b
const FORM_FEED = 0x0c
const RETURN = 0x0d
const SPACE = 0x20
export const DOUBLE_QUOTE = 0x22
const DOLLAR = 0x24
const QUOTE = 0x27
export const PAREN = 0x28
export const CLOSE_PAREN = 0x29
const STAR = 0x2a
export const COMMA = 0x2c
const DASH = 0x2d
const SLASH = 0x2f
export const SEMICOLON = 0x3b
const BACKSLASH = 0x5c
const UNDERSCORE = 0x5f

function isLetter(code: number): boolean {
  return (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39
}

// What may start an unquoted identifier or keyword in PostgreSQL (any non-ASCII character included).
export function isWordStart(code: number): boolean {
  return isLetter(code) || code === UNDERSCORE || code >= 0x80
}

function isWordPart(code: number): boolean {
  return isWordStart(code) || isDigit(code) || code === DOLLAR
}

export function wordEnd(text: string, at: number): number {
  while (at < text.length && isWordPart(text.charCodeAt(at))) at++
  return at
}

// True when the word at `at` is `word` (upper-case letters), in any case.
export function wordIs(text: string, at: number, word: string): boolean {
  const end = wordEnd(text, at)
  if (end - at !== word.length) return false
  for (let i = 0; i < word.length; i++) if ((text.charCodeAt(at + i) & ~0x20) !== word.charCodeAt(i)) return false
  return true
}

// Past white space and comments (`-- ...`, `/* ... */`, which nest in PostgreSQL). -1 for a comment never
// closed (or when given -1).
export function skipSpace(text: string, at: number): number {
  while (at >= 0 && at < text.length) {
    const code = text.charCodeAt(at)
    if (code === SPACE || code === NEWLINE || code === TAB || code === RETURN || code === FORM_FEED || code === VERTICAL_TAB) at++
    else if (code === DASH && text.charCodeAt(at + 1) === DASH) {
      const end = text.indexOf('\n', at + 2)
      at = end < 0 ? text.length : end + 1
    } else if (code === SLASH && text.charCodeAt(at + 1) === STAR) at = blockCommentEnd(text, at)
    else break
  }
  return at
}

// PostgreSQL's block comments nest. Each search resumes where the last one found something, so a text of many
// nested openings is read once (searching anew for the close after each opening read it again: 5 s for 125 kB).
function blockCommentEnd(text: string, at: number): number {
  let depth = 1
  let from = at + 2
  let open = text.indexOf('/*', from)
  let close = text.indexOf('*/', from)
  while (depth > 0) {
    if (close >= 0 && close < from) close = text.indexOf('*/', from)
    if (close < 0) return -1
    if (open >= 0 && open < from) open = text.indexOf('/*', from)
    if (open >= 0 && open < close) {
      depth++
      from = open + 2
      open = text.indexOf('/*', from)
    } else {
      depth--
      from = close + 2
    }
  }
  return from
}

// Past white space, comments and opening parentheses: where a (possibly parenthesized) statement begins.
export function statementStart(text: string, at: number): number {
  for (;;) {
    at = skipSpace(text, at)
    if (at < 0 || text.charCodeAt(at) !== PAREN) return at
    at++
  }
}

// Past `'...'` or `"..."` (a doubled quote stands for itself), starting at the opening quote; -1 if unclosed.
function quotedEnd(text: string, at: number, quote: string): number {
  let from = at + 1
  for (;;) {
    const close = text.indexOf(quote, from)
    if (close < 0) return -1
    if (text.charCodeAt(close + 1) !== text.charCodeAt(at)) return close + 1
    from = close + 2
  }
}

// Past an escape string's body (`E'it\'s'`), starting at its quote; -1 if unclosed.
function escapeStringEnd(text: string, at: number): number {
  for (let i = at + 1; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code === BACKSLASH) i++
    else if (code === QUOTE) {
      if (text.charCodeAt(i + 1) !== QUOTE) return i + 1
      i++
    }
  }
  return -1
}

// Past a parameter (`$1`), a dollar-quoted string (`$$...$$`, `$fn$...$fn$`) or a lone `$`; -1 if unclosed.
function dollarEnd(text: string, at: number): number {
  let end = at + 1
  if (isDigit(text.charCodeAt(end))) {
    while (isDigit(text.charCodeAt(end))) end++
    return end
  }
  if (text.charCodeAt(end) !== DOLLAR) {
    if (!isWordStart(text.charCodeAt(end))) return at + 1
    while (end < text.length && isWordPart(text.charCodeAt(end)) && text.charCodeAt(end) !== DOLLAR) end++
    if (text.charCodeAt(end) !== DOLLAR) return at + 1
  }
  // The tag is text[at, end]; compared in place, so finding its end allocates nothing.
  const tagLength = end + 1 - at
  for (let from = end + 1; ; ) {
    const close = text.indexOf('$', from)
    if (close < 0) return -1
    let same = close + tagLength <= text.length
    for (let i = 1; same && i < tagLength; i++) same = text.charCodeAt(close + i) === text.charCodeAt(at + i)
    if (same) return close + tagLength
    from = close + 1
  }
}

// Past the token at `at` (not white space or a comment): a string, a quoted identifier, a dollar-quoted
// string, a word, or a single character. -1 for a string or identifier never closed.
export function tokenEnd(text: string, at: number): number {
  const code = text.charCodeAt(at)
  if (code === QUOTE) return quotedEnd(text, at, "'")
  if (code === DOUBLE_QUOTE) return quotedEnd(text, at, '"')
  if (code === DOLLAR) return dollarEnd(text, at)
  if (!isWordStart(code)) return at + 1
  const end = wordEnd(text, at)
  // E'...', the one string in which a backslash escapes the quote.
  if (end === at + 1 && (code & ~0x20) === 0x45 && text.charCodeAt(end) === QUOTE) return escapeStringEnd(text, end)
  return end
}
