import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { majorLine, planProblems, publicManifests, releasePlan, versionPackages } from '../lib/release-plan.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const Plan = suite('release plan')
const workspaces = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))

/**
 * The repository as Changesets sees it (the root's and every workspace's package.json, the changesets: only
 * `changesets` when given), in a git repository of its own, made in `dir`.
 */
function copyOfRepository(dir, changesets) {
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  cpSync(join(root, '.changeset'), join(dir, '.changeset'), { recursive: true })
  if (changesets !== undefined) {
    for (const file of readdirSync(join(dir, '.changeset'))) if (file.endsWith('.md') && file !== 'README.md') rmSync(join(dir, '.changeset', file))
    for (const [name, text] of Object.entries(changesets)) writeFileSync(join(dir, '.changeset', `${name}.md`), text)
  }
  for (const workspace of workspaces) {
    const to = join(dir, workspace.location, 'package.json')
    mkdirSync(dirname(to), { recursive: true })
    cpSync(join(root, workspace.location, 'package.json'), to)
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  // Its own repository whatever the environment says (a git hook sets GIT_DIR), with no signing or hooks.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('GIT_')))
  const git = (...args) =>
    execFileSync('git', ['-c', 'user.name=release-plan', '-c', 'user.email=release-plan@example.invalid', '-c', 'commit.gpgsign=false', '-c', 'core.hooksPath=/dev/null', ...args], {
      cwd: dir,
      env,
      stdio: ['ignore', 'ignore', 'pipe'],
    })
  git('init', '-q')
  git('add', '-A')
  git('commit', '-q', '--no-verify', '-m', 'copy')
}

async function inCopy(changesets, fn) {
  const dir = mkdtempSync(join(tmpdir(), 'release-plan-test-'))
  try {
    copyOfRepository(dir, changesets)
    return await fn(dir)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

const manifest = (dir, location) => JSON.parse(readFileSync(join(dir, location, 'package.json'), 'utf8'))
const snapshot = (dir) => workspaces.map((w) => [w.location, readFileSync(join(dir, w.location, 'package.json'), 'utf8')])

Plan('the pending changesets release every public package at one version, with no major none of them asked for', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'release-plan-test-'))
  try {
    copyOfRepository(dir)
    const before = snapshot(dir)
    const plan = await releasePlan(dir)
    // Before: every package went to 1.0.0 on minor changesets, through the adapters' `^0.1.0` peer range on core.
    assert.equal(planProblems(plan), [])
    const released = plan.releases.filter((r) => r.type !== 'none')
    if (released.length > 0) assert.equal(new Set(released.map((r) => r.name)), new Set(publicManifests(dir).map(({ json }) => json.name)), 'the fixed group releases together')
    assert.equal(snapshot(dir), before, 'the widened peer ranges are put back')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

Plan('a minor changeset versions every public package at the next minor, peer ranges set to it, the rest untouched', async () => {
  const minor = "---\n'@lifeguard/core': minor\n---\n\nA feature.\n"
  await inCopy({ feature: minor }, async (dir) => {
    const plan = await releasePlan(dir)
    assert.equal(planProblems(plan), [])
    const before = snapshot(dir)
    versionPackages(dir)
    const publicNames = new Set(publicManifests(dir).map(({ json }) => json.name))
    for (const workspace of workspaces) {
      const json = manifest(dir, workspace.location)
      if (!publicNames.has(json.name)) {
        assert.is(readFileSync(join(dir, workspace.location, 'package.json'), 'utf8'), before.find(([location]) => location === workspace.location)[1], `${json.name} untouched`)
        continue
      }
      assert.is(json.version, '0.2.0', json.name)
      for (const [name, range] of Object.entries(json.peerDependencies ?? {})) if (publicNames.has(name)) assert.is(range, '^0.2.0', `${json.name} -> ${name}`)
      for (const [name, range] of Object.entries(json.devDependencies ?? {})) if (name.startsWith('@lifeguard/')) assert.is(range, '*', `${json.name} devDependency ${name}`)
    }
    assert.equal(readdirSync(join(dir, '.changeset')).filter((f) => f === 'feature.md'), [], 'the changeset is used up')
  })
})

Plan('a major changeset versions them at the next major, with peer ranges on it', async () => {
  await inCopy({ breaking: "---\n'@lifeguard/core': major\n---\n\nA break.\n" }, async (dir) => {
    assert.equal(planProblems(await releasePlan(dir)), [])
    versionPackages(dir)
    assert.is(manifest(dir, 'adapters/express').version, '1.0.0')
    assert.is(manifest(dir, 'adapters/express').peerDependencies['@lifeguard/core'], '^1.0.0')
    assert.is(manifest(dir, 'plugins/autoscale').peerDependencies['@lifeguard/postgres'], '^1.0.0')
  })
})

Plan('no changesets pending is no release and no problem', async () => {
  await inCopy({}, async (dir) => {
    const plan = await releasePlan(dir)
    assert.equal(plan.releases.filter((r) => r.type !== 'none'), [])
    assert.equal(planProblems(plan), [])
  })
})

Plan('a plan is refused for a major nobody asked for, and for packages at different versions', () => {
  const minor = { changesets: [{ releases: [{ name: '@lifeguard/core', type: 'minor' }] }] }
  assert.equal(planProblems({ ...minor, releases: [{ name: '@lifeguard/core', type: 'minor', oldVersion: '0.1.0', newVersion: '0.2.0' }] }), [])
  assert.equal(planProblems({ ...minor, releases: [{ name: '@lifeguard/koa', type: 'major', oldVersion: '0.1.0', newVersion: '1.0.0' }] }), [
    '@lifeguard/koa would go from 0.1.0 to 1.0.0, a major no changeset asked for',
  ])
  const major = { changesets: [{ releases: [{ name: '@lifeguard/core', type: 'major' }] }], releases: [{ name: '@lifeguard/koa', type: 'major', oldVersion: '0.1.0', newVersion: '1.0.0' }] }
  assert.equal(planProblems(major), [])
  const split = [
    { name: '@lifeguard/core', type: 'minor', oldVersion: '0.1.0', newVersion: '0.2.0' },
    { name: '@lifeguard/koa', type: 'patch', oldVersion: '0.1.0', newVersion: '0.1.1' },
  ]
  assert.equal(planProblems({ ...minor, releases: split }), ['the packages would be released at different versions: 0.2.0, 0.1.1'])
})

Plan('a peer range is widened to the major line its version is on', () => {
  assert.is(majorLine('0.1.0'), '>=0.1.0 <1.0.0')
  assert.is(majorLine('1.4.2'), '>=1.4.2 <2.0.0')
})

Plan.run()
