#!/usr/bin/env node
// Versions the public packages from the pending changesets, their peer ranges on each other kept in lockstep
// (see lib/release-plan.mjs for why `changeset version` alone is not enough).
//
//   npm run version-packages -- --plan   prints what would be released, changes nothing; fails on a problem
//   npm run version-packages             applies the changesets (versions, changelogs), then sets the peer
//                                        ranges to the new version; run `npm install` after, for the lockfile
import { fileURLToPath } from 'node:url'
import { planProblems, releasePlan, versionPackages } from './lib/release-plan.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const plan = await releasePlan(root)
const released = plan.releases.filter((r) => r.type !== 'none')
if (released.length === 0) {
  console.log('No changesets pending: nothing to release.')
  process.exit(0)
}
for (const release of released) console.log(`${release.name}: ${release.oldVersion} -> ${release.newVersion} (${release.type})`)
const problems = planProblems(plan)
if (problems.length > 0) {
  for (const problem of problems) console.error(`Refused: ${problem}.`)
  process.exit(1)
}
if (process.argv.includes('--plan')) process.exit(0)

try {
  versionPackages(root)
} catch (error) {
  console.error(`changeset version failed; the peer ranges are as they were, and \`git status\` shows what else it wrote.\n${error.stderr ?? error}`)
  process.exit(1)
}
console.log('Versioned. Run `npm install` to bring package-lock.json up to date, then commit.')
