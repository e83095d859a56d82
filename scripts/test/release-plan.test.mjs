import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { majorLine, planProblems, publicManifests, releasePlan } from '../lib/release-plan.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const Plan = suite('release plan')

/** The repository as Changesets sees it (the root and every workspace's package.json, the changesets), in a git repository of its own. */
function copyOfRepository() {
  const dir = mkdtempSync(join(tmpdir(), 'release-plan-test-'))
  cpSync(join(root, 'package.json'), join(dir, 'package.json'))
  cpSync(join(root, '.changeset'), join(dir, '.changeset'), { recursive: true })
  const workspaces = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  for (const workspace of workspaces) {
    const to = join(dir, workspace.location, 'package.json')
    mkdirSync(dirname(to), { recursive: true })
    cpSync(join(root, workspace.location, 'package.json'), to)
  }
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'))
  const git = (...args) => execFileSync('git', ['-c', 'user.name=release-plan', '-c', 'user.email=release-plan@example.invalid', ...args], { cwd: dir, stdio: 'ignore' })
  git('init', '-q', '-b', 'main')
  git('add', '-A')
  git('commit', '-q', '-m', 'copy')
  return dir
}

Plan('the pending changesets release every public package at one version, with no major none of them asked for', () => {
  const dir = copyOfRepository()
  try {
    const before = publicManifests(dir).map(({ file }) => [relative(dir, file), readFileSync(file, 'utf8')])
    const plan = releasePlan(dir)
    // Before: every package went to 1.0.0 on minor changesets, through the adapters' `^0.1.0` peer range on core.
    assert.equal(planProblems(plan), [])
    const released = plan.releases.filter((r) => r.type !== 'none')
    assert.ok(released.length > 0, 'changesets are pending')
    assert.equal(new Set(released.map((r) => r.name)), new Set(publicManifests(dir).map(({ json }) => json.name)), 'the fixed group releases together')
    assert.equal(
      publicManifests(dir).map(({ file }) => [relative(dir, file), readFileSync(file, 'utf8')]),
      before,
      'the widened peer ranges are put back',
    )
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
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
