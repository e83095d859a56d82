// Reads what a package README tells a new user to do, so that the packed-install test does exactly that:
// the `npm install` lines of its "Install" and "Quick start" sections, the program of its "Quick start"
// (the first `ts` block), the SQL it assumes (`sql` blocks) and the `curl` commands that try it.

/** The text of the `## <title>` section (up to the next `## ` heading), or undefined. */
export function section(markdown, title) {
  const lines = markdown.split('\n')
  const start = lines.findIndex((line) => line.trim().toLowerCase() === `## ${title}`.toLowerCase())
  if (start === -1) return undefined
  const end = lines.findIndex((line, index) => index > start && /^## /.test(line))
  return lines.slice(start + 1, end === -1 ? undefined : end).join('\n')
}

/** Fenced code blocks of `text`, in order: `{ lang, code }`. */
export function codeBlocks(text) {
  const blocks = []
  const fence = /^```([\w-]*)[^\n]*\n([\s\S]*?)^```\s*$/gm
  for (const match of text.matchAll(fence)) blocks.push({ lang: match[1].toLowerCase(), code: match[2] })
  return blocks
}

/** Splits a shell line into words, honouring single and double quotes and backslash escapes. */
export function shellWords(line) {
  const words = []
  let word
  let quote
  for (let i = 0; i < line.length; i++) {
    const char = line[i]
    if (quote !== undefined) {
      if (char === quote) quote = undefined
      else if (char === '\\' && quote === '"' && i + 1 < line.length) word += line[++i]
      else word += char
    } else if (char === "'" || char === '"') {
      quote = char
      word ??= ''
    } else if (char === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i]
    } else if (char === '#' && word === undefined) {
      break // a comment
    } else if (/\s/.test(char)) {
      if (word !== undefined) words.push(word)
      word = undefined
    } else {
      word = (word ?? '') + char
    }
  }
  if (word !== undefined) words.push(word)
  return words
}

/** Package name of an install spec or an import specifier (`@scope/name/sub@1` -> `@scope/name`). */
export function packageName(spec) {
  const parts = spec.split('/')
  const name = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]
  return name.replace(/(?<=.)@.*$/, '')
}

/** The words of each line of the `sh` blocks of `text` that runs `command`. */
function shellCommands(text, command) {
  return codeBlocks(text)
    .filter(({ lang }) => lang === 'sh' || lang === 'bash' || lang === 'shell')
    .flatMap(({ code }) => code.split('\n').map(shellWords))
    .filter((words) => words[0] === command)
}

/** `npm install` lines: `[{ dev, packages }]`. */
export function installLines(text) {
  return shellCommands(text, 'npm')
    .filter((words) => ['install', 'i', 'add'].includes(words[1]))
    .map((words) => {
      const flags = words.slice(2).filter((w) => w.startsWith('-'))
      return { dev: flags.some((f) => f === '-D' || f === '--save-dev'), packages: words.slice(2).filter((w) => !w.startsWith('-')) }
    })
}

/** `curl` lines as requests: `[{ url, method, headers, body }]`. */
export function curlRequests(text) {
  const requests = []
  for (const words of shellCommands(text, 'curl')) {
    const request = { url: undefined, method: undefined, headers: {}, body: undefined }
    for (let i = 1; i < words.length; i++) {
      const word = words[i]
      if (word === '-X' || word === '--request') request.method = words[++i]
      else if (word === '-H' || word === '--header') {
        const [name, ...value] = words[++i].split(':')
        request.headers[name.trim().toLowerCase()] = value.join(':').trim()
      } else if (word === '-d' || word === '--data' || word === '--data-raw') request.body = words[++i]
      else if (/^https?:\/\//.test(word)) request.url = word
    }
    if (request.url === undefined) continue
    request.method ??= request.body === undefined ? 'GET' : 'POST'
    requests.push(request)
  }
  return requests
}

/** Bare module specifiers the program imports (`node:` built-ins left out), as package names. */
export function importedPackages(program) {
  const names = new Set()
  const patterns = [/^\s*import\s[^'"]*?from\s*['"]([^'"]+)['"]/gm, /^\s*import\s*['"]([^'"]+)['"]/gm, /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g]
  for (const pattern of patterns) {
    for (const match of program.matchAll(pattern)) {
      const specifier = match[1]
      if (specifier.startsWith('.') || specifier.startsWith('node:')) continue
      names.add(packageName(specifier))
    }
  }
  return [...names]
}

/**
 * What a README tells a new user to do. `program` is undefined when there is no "Quick start" section
 * with a `ts` (or `js`) block.
 */
export function readQuickStart(markdown) {
  const install = section(markdown, 'Install') ?? ''
  const quickStart = section(markdown, 'Quick start')
  const blocks = quickStart === undefined ? [] : codeBlocks(quickStart)
  const program = blocks.find((block) => ['ts', 'typescript', 'js', 'javascript'].includes(block.lang))
  return {
    install: [...installLines(install), ...(quickStart === undefined ? [] : installLines(quickStart))],
    program: program?.code,
    sql: blocks.filter((block) => block.lang === 'sql').map((block) => block.code),
    requests: quickStart === undefined ? [] : curlRequests(quickStart),
  }
}
