// The lowest version of each third-party peer that the public packages accept, for installing a user's
// project at the floor of every range we claim (a range wider than what is tested is a promise not kept).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'

/**
 * `{ peer -> version }`: for each peer of the given workspaces that is not itself one of them, the lowest
 * version that satisfies every workspace's range for it. Throws when the ranges leave no common floor.
 */
export function peerFloors(root, workspaces) {
  const own = new Set(workspaces.map((w) => w.name))
  const ranges = new Map()
  for (const workspace of workspaces) {
    const { peerDependencies = {} } = JSON.parse(readFileSync(join(root, workspace.dir, 'package.json'), 'utf8'))
    for (const [peer, range] of Object.entries(peerDependencies)) {
      if (own.has(peer)) continue
      ranges.set(peer, [...(ranges.get(peer) ?? []), { workspace: workspace.name, range }])
    }
  }
  const floors = new Map()
  for (const [peer, claims] of ranges) {
    const lowest = claims.map(({ range }) => semver.minVersion(range)).sort(semver.rcompare)[0]
    const refused = claims.filter(({ range }) => !semver.satisfies(lowest, range))
    if (lowest === null || refused.length > 0) {
      throw new Error(`no common floor for ${peer}: ${claims.map((c) => `${c.workspace} wants ${c.range}`).join(', ')}`)
    }
    floors.set(peer, lowest.version)
  }
  return floors
}
