// The release plan of the public packages, and their peer ranges on each other kept in lockstep.
//
// The adapters and plugins take `@lifeguard/core` (and each other) as peer dependencies at `^0.x`. By default
// Changesets bumps a peer dependent to the next major on any minor of its peer; with
// `onlyUpdatePeerDependentsWhenOutOfRange` (.changeset/config.json) only when the peer's new version leaves the
// range, and in 0.x every minor leaves `^0.x`. With the packages in one fixed group, a single `minor` changeset
// released all of them as 1.0.0. So for Changesets' run each internal peer range is widened to its major line
// (`>=0.1.0 <1.0.0`), which leaves a major to `major` changesets; after `changeset version` the ranges are set to
// the new version (`^0.2.0`).
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import getReleasePlanModule from '@changesets/get-release-plan'

const getReleasePlan = getReleasePlanModule.default ?? getReleasePlanModule

/** The public workspaces' package.json files: `{ file, json }`, read from the root's `workspaces` patterns. */
export function publicManifests(root) {
  const patterns = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).workspaces
  const dirs = patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern]
    const parent = pattern.slice(0, -2)
    if (!existsSync(join(root, parent))) return []
    return readdirSync(join(root, parent), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${parent}/${entry.name}`)
  })
  return dirs
    .map((dir) => join(root, dir, 'package.json'))
    .filter((file) => existsSync(file))
    .map((file) => ({ file, json: JSON.parse(readFileSync(file, 'utf8')) }))
    .filter(({ json }) => json.private !== true)
}

/** `>=0.1.0 <1.0.0` for 0.1.0, `>=1.2.0 <2.0.0` for 1.2.0: the major line a version is on. */
export function majorLine(version) {
  const major = Number(version.split('.')[0])
  return `>=${version} <${major + 1}.0.0`
}

/**
 * Sets every peer range of a public package on another to what `rangeOf(version of that package)` says, and
 * writes the files; returns a function that writes them back as they were (also after a write that failed).
 */
export function setInternalPeerRanges(root, rangeOf) {
  const manifests = publicManifests(root)
  const versions = new Map(manifests.map(({ json }) => [json.name, json.version]))
  const originals = manifests.map(({ file }) => [file, readFileSync(file, 'utf8')])
  const restore = () => {
    for (const [file, text] of originals) writeFileSync(file, text)
  }
  try {
    for (const { file, json } of manifests) {
      const peers = json.peerDependencies ?? {}
      const internal = Object.keys(peers).filter((name) => versions.has(name))
      for (const name of internal) peers[name] = rangeOf(versions.get(name))
      if (internal.length > 0) writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`)
    }
  } catch (error) {
    restore()
    throw error
  }
  return restore
}

/**
 * What `changeset version` would do now (no git needed), with the peer ranges widened for it and put back
 * after: `{ changesets, releases: [{ name, type, oldVersion, newVersion }] }`. No changesets: no releases.
 */
export async function releasePlan(root) {
  const restore = setInternalPeerRanges(root, majorLine)
  try {
    return await getReleasePlan(root)
  } finally {
    restore()
  }
}

/** What is wrong with a plan: public packages released at different versions, or a major no changeset asked for. */
export function planProblems(plan) {
  const problems = []
  const versions = new Set(plan.releases.filter((r) => r.type !== 'none').map((r) => r.newVersion))
  if (versions.size > 1) problems.push(`the packages would be released at different versions: ${[...versions].join(', ')}`)
  const askedMajor = plan.changesets.some((c) => c.releases.some((r) => r.type === 'major'))
  for (const release of plan.releases) {
    if (release.type === 'major' && !askedMajor) problems.push(`${release.name} would go from ${release.oldVersion} to ${release.newVersion}, a major no changeset asked for`)
  }
  return problems
}

/**
 * Applies the pending changesets (`changeset version`: versions, changelogs) with the peer ranges widened, then
 * sets them to `^NEW`. Should Changesets fail, the ranges are put back; what it wrote already is for git to undo.
 */
export function versionPackages(root) {
  const restore = setInternalPeerRanges(root, majorLine)
  try {
    const cli = join(root, 'node_modules', '@changesets', 'cli', 'bin.js')
    execFileSync(process.execPath, [cli, 'version'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    restore()
    throw error
  }
  setInternalPeerRanges(root, (version) => `^${version}`)
}
