#!/usr/bin/env node
// The public API of every published package, one report per entry point (`core/api/core.api.md`,
// `core/api/core-adapter.api.md`, ...), written by API Extractor from the built declarations. A change
// to a public surface shows up in review as a change to its report.
//
//   node scripts/api-report.mjs          rewrite the reports (after `npm run build`)
//   node scripts/api-report.mjs --check  fail when a report differs from the code (CI)
import { Extractor, ExtractorConfig } from '@microsoft/api-extractor'
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const check = process.argv.includes('--check')

function publicPackages() {
  const list = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  return list.filter((workspace) => !workspace.private).map((workspace) => ({ name: workspace.name, dir: join(root, workspace.location) }))
}

// `.` -> the package's short name; `./adapter` -> `<short>-adapter`.
function entries(pkg) {
  const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8'))
  const short = pkg.name.split('/').pop()
  return Object.entries(manifest.exports ?? {})
    .filter(([, target]) => typeof target === 'object' && target.types !== undefined)
    .map(([subpath, target]) => ({ report: subpath === '.' ? short : `${short}-${subpath.slice(2).replace(/\//g, '-')}`, types: join(pkg.dir, target.types) }))
}

let failed = 0
for (const pkg of publicPackages()) {
  for (const entry of entries(pkg)) {
    if (!existsSync(entry.types)) {
      console.error(`${pkg.name}: ${entry.types} is missing; run \`npm run build\` first.`)
      failed++
      continue
    }
    const reportFolder = join(pkg.dir, 'api')
    mkdirSync(reportFolder, { recursive: true })
    const config = ExtractorConfig.prepare({
      configObject: {
        projectFolder: pkg.dir,
        mainEntryPointFilePath: entry.types,
        compiler: { tsconfigFilePath: join(pkg.dir, 'tsconfig.build.json') },
        apiReport: { enabled: true, reportFileName: `${entry.report}.api.md`, reportFolder, reportTempFolder: join(root, '.cache', 'api', pkg.name.split('/').pop()) },
        docModel: { enabled: false },
        dtsRollup: { enabled: false },
        tsdocMetadata: { enabled: false },
        messages: {
          extractorMessageReporting: {
            default: { logLevel: 'warning' },
            // Release tags (@public, @beta) are not used: everything an entry exports is public.
            'ae-missing-release-tag': { logLevel: 'none' },
            // `@internal` members stay in the class declarations; they are not part of the surface.
            'ae-internal-missing-underscore': { logLevel: 'none' },
            // Doc comments are checked by the documentation build (TypeDoc), not here.
            'ae-undocumented': { logLevel: 'none' },
            // A type reachable from an entry but exported by another entry (or internal) still shows in the report.
            'ae-forgotten-export': { logLevel: 'none' },
          },
          tsdocMessageReporting: { default: { logLevel: 'none' } },
        },
      },
      configObjectFullPath: join(pkg.dir, 'api-extractor.json'),
      packageJsonFullPath: join(pkg.dir, 'package.json'),
    })
    const result = Extractor.invoke(config, { localBuild: !check, showVerboseMessages: false, messageCallback: (message) => {
      if (message.logLevel === 'warning' || message.logLevel === 'error') console.error(`${pkg.name} (${entry.report}): ${message.text}`)
      message.handled = true
    } })
    if (!result.succeeded || (check && result.apiReportChanged)) {
      console.error(`${pkg.name}: the API report ${entry.report}.api.md ${result.apiReportChanged ? 'differs from the code: run `node scripts/api-report.mjs` and commit it' : 'could not be made'}.`)
      failed++
    } else {
      console.log(`${pkg.name}: ${entry.report}.api.md ${result.apiReportChanged ? 'updated' : 'unchanged'}`)
    }
  }
}
process.exit(failed === 0 ? 0 : 1)
