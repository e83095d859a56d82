#!/usr/bin/env node
// The packed-install test: what a user gets from `npm install`, checked end to end.
//
//   npm run test:packed                       on this Node.js
//   npm run test:packed -- --node PATH ...    the programs on each Node.js given (CI: the lowest claimed, and 24)
//   npm run test:packed -- --keep             keep the scratch folder to look at
//   npm run test:packed -- --lowest-peers     every third-party peer at the lowest version our ranges accept
//
// 1. `npm pack` every public workspace (its `prepack` builds it) and check each tarball.
// 2. In a scratch project outside the workspace (no workspace links), `npm install` the tarballs and every
//    package the READMEs' install lines name, from the registry, as a user would (with `--lowest-peers`,
//    the peers pinned at the floor of their ranges: `pg@8.21.0` for `^8.21.0`).
// 3. For each README: its quick start imports only what its install lines install (types included), and
//    typechecks (strict, `exactOptionalPropertyTypes`, `moduleResolution: nodenext`).
// 4. Run each quick start against the real PostgreSQL (MongoDB's against the wire-protocol test server),
//    with the README's `curl` commands and a SIGTERM for the programs that keep running; and `require()`
//    every package from CommonJS. Ends with `N passed, N failed`.
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { packAll, publicWorkspaces, tarballProblems, unpack } from './lib/pack.mjs'
import { peerFloors } from './lib/peer-floors.mjs'
import { pgSettings } from './lib/preflight.mjs'
import { importedPackages, packageName, readQuickStart } from './lib/readme-quick-start.mjs'
import { runQuickStart } from './lib/run-quick-start.mjs'

const run = promisify(execFile)
const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const nodes = argv.flatMap((arg, i) => (arg === '--node' ? [argv[i + 1]] : []))
if (nodes.length === 0) nodes.push(process.execPath)
const keep = argv.includes('--keep')
const lowestPeers = argv.includes('--lowest-peers')
const variant = lowestPeers ? ' [peers at their floors]' : ''

const started = Date.now()
const phase = (text) => console.log(`\n[${((Date.now() - started) / 1000).toFixed(1)}s] ${text}`)
const results = []
function record(check, ok, detail = '') {
  const name = `${check}${variant}`
  results.push({ name, ok })
  console.log(`${ok ? '✓' : '✘'} ${name}${ok || detail === '' ? '' : `\n    ${detail.trim().split('\n').join('\n    ')}`}`)
}
async function check(name, fn) {
  try {
    const detail = await fn()
    record(name, detail === undefined || detail === '', detail ?? '')
  } catch (error) {
    record(name, false, `${error.message}${error.stdout ? `\n${error.stdout}` : ''}${error.stderr ? `\n${error.stderr}` : ''}`)
  }
}

const scratch = mkdtempSync(join(tmpdir(), 'lifeguard-packed-'))
const app = join(scratch, 'app')
const workspaces = publicWorkspaces(root)
const rootPackage = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const short = (workspace) => workspace.dir.split('/').pop()
const quickStarts = workspaces.map((workspace) => ({ workspace, ...readQuickStart(readFileSync(join(root, workspace.dir, 'README.md'), 'utf8')) }))

try {
  // 1. Pack.
  phase(`npm pack ${workspaces.map((w) => w.name).join(', ')}`)
  const tarballs = packAll(root, workspaces, join(scratch, 'tarballs'))
  for (const workspace of workspaces) {
    await check(`${workspace.name}: the tarball has LICENSE, CHANGELOG, every exported file, self-contained source maps and publishing metadata`, () =>
      tarballProblems(unpack(tarballs.get(workspace.name), join(scratch, 'unpacked', short(workspace))), workspace, rootPackage).join('\n'),
    )
  }

  // 2. Install what the READMEs say, Lifeguard's packages from the tarballs.
  mkdirSync(app, { recursive: true })
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'packed-install-app', version: '1.0.0', private: true, type: 'module' }, null, 2))
  const floors = lowestPeers ? peerFloors(root, workspaces) : new Map()
  // A companion whose latest major needs more than a floor, though its own peer range says otherwise:
  // @hono/node-server 2 imports `hono/ws`'s WebSocket helper (Hono 4.6.7 on), so a project on Hono 4.0 keeps
  // node-server 1 (as the Hono README says).
  const companions = lowestPeers ? new Map([['@hono/node-server', '1']]) : new Map()
  const pinned = (name, spec) => (floors.has(name) ? `${name}@${floors.get(name)}` : companions.has(name) ? `${name}@${companions.get(name)}` : spec)
  const specs = new Set(['@types/node@20'])
  for (const { install } of quickStarts) for (const line of install) for (const spec of line.packages) specs.add(tarballs.get(packageName(spec)) ?? pinned(packageName(spec), spec))
  if (lowestPeers) console.log(`peers at their floors: ${[...floors].map(([name, version]) => `${name}@${version}`).join(', ')}`)
  let installed = false
  phase('npm install in a scratch project')
  await check('npm install of the tarballs and of every package the READMEs tell users to install', async () => {
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', ...specs], { cwd: app, maxBuffer: 16 << 20 })
    installed = true
  })
  // npm may give a package that asks for a newer copy of a pinned peer one of its own, nested under it: code
  // that resolves from there runs that copy, not the floor.
  if (installed && lowestPeers) {
    await check('every copy of every peer the READMEs install is at the floor of its range', async () => {
      const problems = []
      for (const [name, version] of floors) {
        if (!existsSync(join(app, 'node_modules', name, 'package.json'))) continue
        const listed = await run('npm', ['ls', name, '--all', '--json'], { cwd: app, maxBuffer: 16 << 20 }).catch((error) => error)
        const found = new Set()
        const walk = (tree) => {
          for (const [dependency, node] of Object.entries(tree?.dependencies ?? {})) {
            if (dependency === name && node.version !== undefined) found.add(node.version)
            walk(node)
          }
        }
        const tree = JSON.parse(listed.stdout || '{}')
        if (tree.error !== undefined || tree.dependencies === undefined) {
          problems.push(`npm ls ${name} gave no tree: ${JSON.stringify(tree.error ?? tree).slice(0, 300)}`)
          continue
        }
        walk(tree)
        for (const other of found) if (other !== version) problems.push(`${name} ${other} is installed beside the floor ${version}`)
      }
      return problems.join('\n')
    })
  }

  if (installed) {
    // 3. Imports against install lines, then the compiler.
    const programs = join(app, 'quick-start')
    mkdirSync(programs, { recursive: true })
    const installedPackage = (name) => JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8'))
    const typed = (name) => {
      const pkg = installedPackage(name)
      return Boolean(pkg.types || pkg.typings || JSON.stringify(pkg.exports ?? {}).includes('"types"') || existsSync(join(app, 'node_modules', name, 'index.d.ts')))
    }
    const compiled = []
    for (const quickStart of quickStarts) {
      const { workspace, program, install } = quickStart
      const names = new Set(install.flatMap((line) => line.packages.map(packageName)))
      // What a package manager that does not install peers (or a TypeScript user) needs: every required
      // peer and every optional `@types/*` one, of every Lifeguard package the lines install. Other optional
      // peers serve one subpath (autoscale's `/mongodb`): the import check above catches a quick start using one.
      const requiredPeers = (pkg) => Object.keys(pkg.peerDependencies ?? {}).filter((peer) => peer.startsWith('@types/') || !pkg.peerDependenciesMeta?.[peer]?.optional)
      const peers = [...names].filter((name) => tarballs.has(name)).flatMap((name) => requiredPeers(installedPackage(name)).map((peer) => [name, peer]))
      await check(`${workspace.name}: the install lines name every package the quick start imports, with its types, and every peer`, () =>
        [
          ...importedPackages(program ?? '').flatMap((name) => {
            if (!names.has(name)) return [`the quick start imports ${name}, which the install lines leave out`]
            const types = `@types/${name.replace(/^@/, '').replace('/', '__')}`
            return typed(name) || names.has(types) ? [] : [`the quick start imports ${name}, which has no types of its own, and the install lines leave out ${types}`]
          }),
          ...peers.filter(([, peer]) => !names.has(peer)).map(([name, peer]) => `${name} has the peer dependency ${peer}, which the install lines leave out`),
        ].join('\n'),
      )
      // A renamed heading or a fence of another language would drop the quick start from every check below.
      await check(`${workspace.name}: the README has a quick start program (a ts or js block under "## Quick start")`, () => (program === undefined ? 'none found' : ''))
      if (program === undefined) continue
      writeFileSync(join(programs, `${short(workspace)}.ts`), program)
      compiled.push(quickStart)
    }
    // One compilation per program (each sees only the declaration merging its own imports bring in), two
    // at a time (the machine has two cores), with `skipLibCheck` as most projects set it. The CommonJS
    // program imports every package: its compilation checks all of Lifeguard's declaration files too.
    writeFileSync(join(programs, 'require-all.cts'), requireAllProgram(workspaces))
    phase('tsc')
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const compile = async (file, label, skipLibCheck, setting = { name: 'moduleResolution nodenext', options: {} }) =>
      check(`${label} typechecks (strict, exactOptionalPropertyTypes, ${setting.name})`, async () => {
        const config = join(app, `tsconfig.${file}${setting.suffix ?? ''}.json`)
        const compilerOptions = { strict: true, exactOptionalPropertyTypes: true, module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', types: ['node'], outDir: 'out', rootDir: 'quick-start', skipLibCheck, ...setting.options }
        writeFileSync(config, JSON.stringify({ compilerOptions, files: [`quick-start/${file}`] }))
        const result = await run(process.execPath, [tsc, '-p', config, '--pretty', 'false'], { cwd: app }).catch((error) => error)
        const errors = (result.stdout ?? '').split('\n').filter((line) => /: error TS\d+/.test(line))
        if (result instanceof Error && errors.length === 0) return `${result.message}\n${result.stdout ?? ''}`
        // Errors in other packages' declarations are theirs (and hidden by skipLibCheck in most projects).
        const ours = errors.filter((line) => line.startsWith('quick-start/') || line.startsWith('node_modules/@lifeguard/'))
        for (const line of errors.filter((l) => !ours.includes(l))) console.log(`  (not ours, ignored) ${line}`)
        return ours.join('\n')
      })
    // A project set up the old way: its `import pg from 'pg'` would not compile, so no declaration of ours may
    // need `esModuleInterop` either (without it, skipLibCheck hid the error and pg's types went missing).
    const oldStyle = { name: 'module commonjs, moduleResolution node10, no esModuleInterop', suffix: '.node10', options: { module: 'commonjs', moduleResolution: 'node10', esModuleInterop: false, noEmit: true } }
    const queue = [
      ['require-all.cts', "CommonJS code that requires every package, and every package's declarations,", false],
      ['require-all.cts', "CommonJS code that requires every package, and every package's declarations,", false, oldStyle],
      ...compiled.map((q) => [`${short(q.workspace)}.ts`, `${q.workspace.name}: the quick start`, true]),
    ]
    await Promise.all([0, 1].map(async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await compile(...next)
    }))

    // 4. Run them, on every Node.js asked for.
    phase('run')
    const mongo = await startMongoTestServer()
    try {
      for (const node of nodes) {
        const { stdout: version } = await run(node, ['--version'])
        await check(`CommonJS require() of every package, one instance shared with import, on Node.js ${version.trim()}`, async () => {
          await run(node, [join(app, 'out', 'require-all.cjs')], { cwd: app })
        })
        for (const quickStart of compiled) {
          const name = `${quickStart.workspace.name}: the quick start runs on Node.js ${version.trim()}`
          // Not run is not passed: without its server, the quick start fails the run, saying why.
          if (usesMongo(quickStart) && mongo.uri === undefined) {
            record(name, false, `not run: ${mongo.reason}`)
            continue
          }
          await check(name, () => runProgram(node, quickStart, mongo.uri))
        }
      }
    } finally {
      await mongo.close()
    }
  }
} finally {
  if (keep) console.log(`\nScratch folder kept: ${scratch}`)
  else rmSync(scratch, { recursive: true, force: true })
}

const failed = results.filter((r) => !r.ok).length
console.log(`\n${results.length - failed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)

function usesMongo({ program }) {
  return importedPackages(program).includes('@lifeguard/mongodb')
}

/** A CommonJS module that requires every package and checks that require() and import() share one instance. */
function requireAllProgram(list) {
  return `// CommonJS, as an application that has not moved to ESM would write it.
${list.map((w, i) => `import m${i} = require('${w.name}')`).join('\n')}

const all: Record<string, object> = { ${list.map((w, i) => `'${w.name}': m${i}`).join(', ')} }
for (const [name, value] of Object.entries(all)) {
  if (Object.keys(value).length === 0) throw new Error(\`require('\${name}') gave no exports\`)
}
void import('@lifeguard/core').then((esm) => {
  if (esm.OperationContext !== m${list.findIndex((w) => w.name === '@lifeguard/core')}.OperationContext) throw new Error('require() and import() gave two copies of @lifeguard/core')
})
`
}

/** Runs one compiled quick start in a scratch schema of the test database, with its SQL and fixtures. */
async function runProgram(node, { workspace, sql, requests }, mongoUri) {
  const { default: pg } = await import('pg')
  const { scratchName } = await import('../test-kit/dist/index.js')
  const schema = scratchName(`quick_start_${short(workspace)}`)
  const settings = pgSettings()
  const admin = new pg.Client({ ...settings, application_name: 'lifeguard-packed-install' })
  await admin.connect()
  try {
    await admin.query(`CREATE SCHEMA "${schema}"`)
    await admin.query(`SET search_path = "${schema}"`)
    const fixture = fileURLToPath(new URL(`packed-install/fixtures/${short(workspace)}.sql`, import.meta.url))
    for (const statement of [...sql, ...(existsSync(fixture) ? [readFileSync(fixture, 'utf8')] : [])]) await admin.query(statement)
    const url = new URL(`postgres://${settings.host}:${settings.port}/${settings.database}`)
    url.username = settings.user
    if (settings.password) url.password = settings.password
    const env = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url.toString(),
      PGHOST: settings.host,
      PGPORT: String(settings.port),
      PGUSER: settings.user,
      PGDATABASE: settings.database,
      ...(settings.password ? { PGPASSWORD: settings.password } : {}),
      // Every connection the program opens works in the scratch schema (then public).
      PGOPTIONS: `-c search_path=${schema},public`,
      ...(mongoUri ? { MONGODB_URI: mongoUri } : {}),
    }
    const result = await runQuickStart({ node, program: join(app, 'out', `${short(workspace)}.js`), cwd: app, env, requests })
    return result.ok ? undefined : `${result.reason}\n${result.output.slice(-3000)}`
  } finally {
    await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).catch(() => undefined)
    await admin.end()
  }
}

/** MongoDB's wire-protocol test server (no mongod can run here); `uri` undefined with a reason when unavailable. */
async function startMongoTestServer() {
  try {
    const { startWireServer } = await import('../test-kit/src/mongo-wire/wire-server.ts')
    const server = await startWireServer()
    return { uri: server.uri, reason: undefined, close: () => server.close() }
  } catch (error) {
    return { uri: undefined, reason: `the MongoDB wire-protocol test server could not start (${error.message}; run with \`node --import tsx\`)`, close: async () => {} }
  }
}
