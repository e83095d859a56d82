// Packs the public workspaces the way `npm publish` would (its `prepack` builds them) and checks what a
// tarball holds: the files every published package needs, every path its `exports` and `types` name, and
// source maps whose sources are inside the tarball.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'

/** The workspaces that are published (not `private`), in the root's workspace order. */
export function publicWorkspaces(root) {
  const list = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  const order = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces.map((pattern) => pattern.replace(/\/\*$/, ''))
  const rank = (dir) => order.findIndex((prefix) => dir === prefix || dir.startsWith(`${prefix}/`))
  return list
    .filter((w) => !w.private)
    .map((w) => ({ name: w.name, dir: w.location, version: w.version }))
    .sort((a, b) => rank(a.dir) - rank(b.dir) || a.dir.localeCompare(b.dir))
}

/** `npm pack` of each workspace into `destination`; resolves `{ name -> tarball path }`. */
export function packAll(root, workspaces, destination) {
  mkdirSync(destination, { recursive: true })
  const args = ['pack', '--loglevel=warn', '--pack-destination', destination, ...workspaces.flatMap((w) => ['--workspace', w.dir])]
  execFileSync('npm', args, { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] })
  const tarballs = new Map()
  for (const workspace of workspaces) {
    const file = join(destination, `${workspace.name.replace(/^@/, '').replace('/', '-')}-${workspace.version}.tgz`)
    if (!existsSync(file)) throw new Error(`npm pack made no ${file}`)
    tarballs.set(workspace.name, file)
  }
  return tarballs
}

/** Unpacks `tarball` into `into` (its `package/` folder becomes `into`); returns `into`. */
export function unpack(tarball, into) {
  mkdirSync(into, { recursive: true })
  execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1'])
  return into
}

function exportTargets(value) {
  if (typeof value === 'string') return [value]
  if (value === null || typeof value !== 'object') return []
  return Object.values(value).flatMap(exportTargets)
}

function filesOf(dir) {
  return readdirSync(dir, { recursive: true }).map(String)
}

/**
 * What is wrong with an unpacked package (an empty list when nothing is): missing LICENSE, README or
 * CHANGELOG, a path named by `exports`/`main`/`types` that is not there, a source map pointing outside
 * the package, or publishing metadata that is missing or disagrees with the repository's.
 */
export function tarballProblems(unpacked, workspace, rootPackage) {
  const problems = []
  const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'))
  for (const file of ['LICENSE', 'README.md', 'CHANGELOG.md']) if (!existsSync(join(unpacked, file))) problems.push(`${file} is missing`)
  for (const target of [pkg.main, pkg.types, ...exportTargets(pkg.exports)]) {
    if (target !== undefined && !existsSync(join(unpacked, target))) problems.push(`${target} (named by package.json) is missing`)
  }
  for (const file of filesOf(unpacked).filter((f) => f.endsWith('.map'))) {
    const map = JSON.parse(readFileSync(join(unpacked, file), 'utf8'))
    for (const source of map.sources ?? []) {
      const target = resolve(unpacked, dirname(file), map.sourceRoot ?? '', source)
      if (relative(unpacked, target).startsWith('..') || !existsSync(target)) problems.push(`${file} points at ${source}, which is not in the tarball`)
    }
  }
  const expected = {
    license: 'MIT',
    'publishConfig.access': 'public',
    'repository.url': rootPackage.repository?.url,
    'repository.directory': workspace.dir,
    'bugs.url': rootPackage.bugs?.url,
    'engines.node': rootPackage.engines?.node,
  }
  for (const [path, value] of Object.entries(expected)) {
    const actual = path.split('.').reduce((object, key) => object?.[key], pkg)
    if (actual !== value) problems.push(`package.json ${path} is ${JSON.stringify(actual)}, expected ${JSON.stringify(value)}`)
  }
  if (typeof pkg.homepage !== 'string' || !pkg.homepage.includes(workspace.dir)) problems.push('package.json homepage does not point at the package')
  if (!Array.isArray(pkg.keywords) || pkg.keywords.length === 0) problems.push('package.json has no keywords')
  return problems
}
