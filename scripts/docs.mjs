#!/usr/bin/env node
// The documentation site: TypeDoc over every public package (one page per package, from its README and
// the TSDoc of its exports) plus the guides in docs/guides.
//
//   npm run docs            builds docs/site
//   npm run docs:check      the same, and fails on: a TypeDoc validation warning (an unresolved
//                           {@link}, a relative path that is not a file), an exported symbol without a
//                           doc comment, a link in the site that leads nowhere. Ends with `N passed, N failed`.
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LinkChecker } from 'linkinator'
import { Application, ReflectionKind } from 'typedoc'
import { publicWorkspaces } from './lib/pack.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const checking = process.argv.includes('--check')
const out = join(root, 'docs', 'site')
process.chdir(root)

const workspaces = publicWorkspaces(root)
const app = await Application.bootstrapWithPlugins({
  options: join(root, 'typedoc.json'),
  entryPoints: workspaces.map((w) => w.dir),
  out,
})
// Counted from before the conversion: TypeDoc warns of comments it cannot read (a relative path that is not a
// file) while it converts.
const before = app.logger.warningCount + app.logger.errorCount
const project = await app.convert()
if (project === undefined) {
  console.error('TypeDoc could not convert the packages (see above).')
  process.exit(1)
}

const results = []
const record = (name, problems) => {
  results.push(problems.length === 0)
  console.log(`${problems.length === 0 ? '✓' : '✘'} ${name}${problems.map((p) => `\n    ${p}`).join('')}`)
}

app.validate(project)
const validationProblems = app.logger.warningCount + app.logger.errorCount - before
record('TypeDoc validation: every {@link} resolves, every relative path is a file', validationProblems === 0 ? [] : [`${validationProblems} warning(s) above`])

// TypeDoc's own `notDocumented` also demands a comment on every member and method signature; what
// every public entry point must have is a doc comment on each symbol it exports.
const exported = ReflectionKind.Class | ReflectionKind.Interface | ReflectionKind.Function | ReflectionKind.Variable | ReflectionKind.TypeAlias | ReflectionKind.Enum | ReflectionKind.Namespace
const undocumented = project
  .getReflectionsByKind(exported)
  .filter((r) => r.parent?.kindOf(ReflectionKind.Module | ReflectionKind.Project))
  .filter((r) => !r.hasComment() && !(r.signatures ?? []).some((s) => s.hasComment()) && !(r.type?.declaration?.signatures ?? []).some((s) => s.hasComment()))
  .map((r) => `${r.getFullName()} (${ReflectionKind.singularString(r.kind)}) has no doc comment`)
record(`every exported symbol of ${workspaces.length} packages has a doc comment`, undocumented)

rmSync(out, { recursive: true, force: true })
await app.generateDocs(project, out)
console.log(`Documentation written to ${out}`)

if (checking) {
  // Every link inside the site; links to other sites are not followed (no network in CI).
  const checker = new LinkChecker()
  const { links } = await checker.check({
    path: out,
    recurse: true,
    linksToSkip: async (link) => /^https?:\/\//.test(link) && !/^https?:\/\/(localhost|127\.0\.0\.1)[:/]/.test(link),
  })
  const broken = links.filter((link) => link.state === 'BROKEN').map((link) => `${link.url} (status ${link.status}) on ${link.parent}`)
  record(`no broken link among ${links.length} in the site`, broken)
}

const failed = results.filter((ok) => !ok).length
if (checking || failed > 0) console.log(`\n${results.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
