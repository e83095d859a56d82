import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { suite } from 'uvu'
import * as assert from 'uvu/assert'
import { curlRequests, importedPackages, installLines, packageName, readQuickStart, shellWords } from '../lib/readme-quick-start.mjs'

const root = fileURLToPath(new URL('../..', import.meta.url))
const fence = '```'
const Readme = suite('README quick starts')

Readme('splits shell lines like a shell, quotes and comments included', () => {
  assert.equal(shellWords(`curl -s -X POST http://x/o -H 'content-type: application/json' -d '{"a":"b c"}' # try it`), [
    'curl', '-s', '-X', 'POST', 'http://x/o', '-H', 'content-type: application/json', '-d', '{"a":"b c"}',
  ])
  assert.equal(shellWords('npm install -D @types/express   # TypeScript'), ['npm', 'install', '-D', '@types/express'])
})

Readme('names packages from install specs and import specifiers', () => {
  assert.is(packageName('@lifeguard/core/adapter'), '@lifeguard/core')
  assert.is(packageName('@types/koa@^3'), '@types/koa')
  assert.is(packageName('express@5'), 'express')
  assert.equal(importedPackages(`import express from 'express'\nimport { x } from '@lifeguard/core/http'\nimport type { Y } from 'node:http'\nimport './side.js'\nawait import('pg')`), ['express', '@lifeguard/core', 'pg'])
})

Readme('reads install lines, the program, SQL and requests of a README', () => {
  const markdown = [
    '# x', '', '## Install', '', `${fence}sh`, 'npm install a @s/b', 'npm install -D @types/a', fence, '',
    '## Quick start', '', `${fence}sh`, 'npm install c', fence, '', `${fence}sql`, 'CREATE TABLE t (id int);', fence, '',
    `${fence}ts`, "import a from 'a'", fence, '', `${fence}sh`, "curl -s -X POST http://127.0.0.1:3000/t -d '{}'", fence, '',
    '## Later', '', `${fence}ts`, 'not the program', fence,
  ].join('\n')
  const quickStart = readQuickStart(markdown)
  assert.equal(quickStart.install, [{ dev: false, packages: ['a', '@s/b'] }, { dev: true, packages: ['@types/a'] }, { dev: false, packages: ['c'] }])
  assert.is(quickStart.program, "import a from 'a'\n")
  assert.equal(quickStart.sql, ['CREATE TABLE t (id int);\n'])
  assert.equal(quickStart.requests, [{ url: 'http://127.0.0.1:3000/t', method: 'POST', headers: {}, body: '{}' }])
  assert.equal(installLines('no code'), [])
  assert.equal(curlRequests(`${fence}sh\ncurl -s http://h:1/a\n${fence}`)[0].method, 'GET')
})

Readme('every public package README has install lines and a quick start program that imports only what they install', () => {
  const workspaces = JSON.parse(execFileSync('npm', ['query', '.workspace', '--json'], { cwd: root, encoding: 'utf8' }))
  const published = workspaces.filter((w) => !w.private)
  assert.ok(published.length >= 8, 'the public packages are found')
  for (const workspace of published) {
    const { install, program } = readQuickStart(readFileSync(join(root, workspace.location, 'README.md'), 'utf8'))
    assert.ok(install.length > 0, `${workspace.name}: an "Install" section with npm install lines`)
    assert.ok(program !== undefined, `${workspace.name}: a "Quick start" section with a program`)
    const installed = new Set(install.flatMap((line) => line.packages.map(packageName)))
    assert.ok(installed.has(workspace.name), `${workspace.name}: its install line installs it`)
    for (const name of importedPackages(program)) assert.ok(installed.has(name), `${workspace.name}: the quick start imports ${name}, which its install lines leave out`)
  }
})

Readme.run()
